package lamina.runtime;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The function's handler, resolved as AWS's Java runtime does: {@code package.Class} implementing
 * RequestHandler or RequestStreamHandler, or {@code package.Class::method} with one of the signatures
 * (InputStream, OutputStream[, Context]) or ([Input[, Context]]), static or on an instance made with the
 * public no-argument constructor. Inputs and outputs other than streams go through Jackson.
 */
final class Handler {
    /** An invocation's failure while reading its event: Lambda's "error during JSON parsing". */
    static final class EventParseError extends RuntimeException {
        EventParseError(Throwable cause) {
            super("An error occurred during JSON parsing", cause);
        }
    }

    private enum Shape { STREAM, STREAM_CONTEXT, NONE, INPUT, INPUT_CONTEXT, CONTEXT }

    private final Object target;
    private final Method method;
    private final Shape shape;
    private final JavaType inputType;
    private final ObjectMapper mapper;

    private Handler(Object target, Method method, Shape shape, JavaType inputType, ObjectMapper mapper) {
        this.target = target;
        this.method = method;
        this.shape = shape;
        this.inputType = inputType;
        this.mapper = mapper;
    }

    static Handler load(String spec, ClassLoader loader, ObjectMapper mapper) throws HandlerError {
        String className = spec;
        String methodName = null;
        int sep = spec.indexOf("::");
        if (sep >= 0) {
            className = spec.substring(0, sep);
            methodName = spec.substring(sep + 2);
        }
        if (className.isEmpty() || (methodName != null && methodName.isEmpty())) {
            throw new HandlerError("java.lang.IllegalArgumentException",
                    "Invalid handler " + spec + ": expected package.Class or package.Class::method", null);
        }
        Class<?> cls;
        try {
            cls = Class.forName(className, true, loader); // static initializers run here, in the init phase
        } catch (ClassNotFoundException e) {
            throw new HandlerError("java.lang.ClassNotFoundException", "Class not found: " + className, null);
        } catch (ExceptionInInitializerError e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new HandlerError(cause.getClass().getName(), String.valueOf(cause.getMessage()), cause);
        } catch (LinkageError e) {
            throw new HandlerError(e.getClass().getName(), String.valueOf(e.getMessage()), e);
        }
        if (methodName == null) {
            if (RequestStreamHandler.class.isAssignableFrom(cls)) {
                methodName = "handleRequest";
            } else if (RequestHandler.class.isAssignableFrom(cls)) {
                methodName = "handleRequest";
            } else {
                throw new HandlerError("java.lang.RuntimeException", "Class " + cls.getName()
                        + " does not implement RequestHandler or RequestStreamHandler; name the method as"
                        + " package.Class::method", null);
            }
        }
        Method chosen = choose(cls, methodName);
        if (chosen == null) {
            throw new HandlerError("java.lang.RuntimeException", "No public method named " + methodName
                    + " with appropriate method signature found on class " + cls.getName(), null);
        }
        Object target = null;
        if (!Modifier.isStatic(chosen.getModifiers())) {
            try {
                target = cls.getDeclaredConstructor().newInstance();
            } catch (InvocationTargetException e) {
                Throwable cause = e.getCause();
                throw new HandlerError(cause.getClass().getName(), String.valueOf(cause.getMessage()), cause);
            } catch (ReflectiveOperationException e) {
                throw new HandlerError("java.lang.RuntimeException", "Class " + cls.getName()
                        + " has no public no-argument constructor to make the handler with", e);
            }
        }
        chosen.setAccessible(true);
        Shape shape = shapeOf(chosen);
        JavaType input = null;
        if (shape == Shape.INPUT || shape == Shape.INPUT_CONTEXT) {
            Type type = chosen.getGenericParameterTypes()[0];
            input = mapper.getTypeFactory().constructType(type);
        }
        return new Handler(target, chosen, shape, input, mapper);
    }

    /** The public method named ``name`` with a handler signature; with several, the most parameters. */
    private static Method choose(Class<?> cls, String name) {
        List<Method> found = new ArrayList<>();
        for (Method m : cls.getMethods()) {
            if (m.getName().equals(name) && !m.isBridge() && !m.isSynthetic() && shapeOf(m) != null) {
                found.add(m);
            }
        }
        // The interface's erased handleRequest(Object, Context) loses to the concrete one.
        found.sort(Comparator.comparingInt((Method m) -> m.getParameterCount()).reversed()
                .thenComparing(m -> m.getParameterTypes().length > 0 && m.getParameterTypes()[0] == Object.class));
        return found.isEmpty() ? null : found.get(0);
    }

    private static Shape shapeOf(Method m) {
        Class<?>[] p = m.getParameterTypes();
        switch (p.length) {
            case 0:
                return Shape.NONE;
            case 1:
                return p[0] == Context.class ? Shape.CONTEXT : Shape.INPUT;
            case 2:
                if (p[0] == InputStream.class && p[1] == OutputStream.class) {
                    return Shape.STREAM;
                }
                return p[1] == Context.class ? Shape.INPUT_CONTEXT : null;
            case 3:
                return p[0] == InputStream.class && p[1] == OutputStream.class && p[2] == Context.class
                        ? Shape.STREAM_CONTEXT : null;
            default:
                return null;
        }
    }

    /** Run one invocation; the response body, or the handler's own exception. */
    byte[] invoke(byte[] event, Context context) throws Throwable {
        try {
            switch (shape) {
                case STREAM:
                case STREAM_CONTEXT: {
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    InputStream in = new ByteArrayInputStream(event);
                    if (shape == Shape.STREAM) {
                        method.invoke(target, in, out);
                    } else {
                        method.invoke(target, in, out, context);
                    }
                    return out.toByteArray();
                }
                case NONE:
                    return serialize(method.invoke(target));
                case CONTEXT:
                    return serialize(method.invoke(target, context));
                default: {
                    Object input = parse(event);
                    return serialize(shape == Shape.INPUT ? method.invoke(target, input)
                            : method.invoke(target, input, context));
                }
            }
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private Object parse(byte[] event) {
        if (event.length == 0) {
            return null;
        }
        try {
            return mapper.readValue(event, inputType);
        } catch (Exception e) {
            throw new EventParseError(e);
        }
    }

    private byte[] serialize(Object result) throws Exception {
        if (method.getReturnType() == void.class) {
            return "null".getBytes();
        }
        if (result instanceof InputStream) {
            return RuntimeApi.readAll((InputStream) result);
        }
        return mapper.writeValueAsBytes(result);
    }
}

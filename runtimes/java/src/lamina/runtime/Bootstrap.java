package lamina.runtime;

import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.File;
import java.io.PrintStream;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * lamina's Java runtime client: loads the handler from the task's classes and jars, then loops on the
 * Runtime API. Started by /var/runtime/bootstrap with the interfaces, this client and Jackson on the
 * class path; the function's code gets a class loader of its own over /var/task, /var/task/lib/*.jar
 * and the layers' /opt/java/lib/*.jar.
 */
public final class Bootstrap {
    private Bootstrap() {
    }

    public static void main(String[] args) throws Throwable {
        ObjectMapper mapper = mapper();
        if (args.length > 0 && args[0].equals("--archive")) {
            warmUp(mapper); // at image build: the classes every start loads go into the CDS archive
            return;
        }
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, "UTF-8");
        System.setOut(out);
        LambdaLogger logger = logger(out);
        LambdaRuntime.logger = logger;
        RuntimeApi api = new RuntimeApi(System.getenv("AWS_LAMBDA_RUNTIME_API"));
        ClassLoader loader = taskLoader();
        Thread.currentThread().setContextClassLoader(loader);
        Handler handler;
        try {
            handler = Handler.load(env("_HANDLER", ""), loader, mapper);
        } catch (HandlerError e) {
            byte[] body = Errors.body(e.errorType, e.getMessage(), e.getCause(), mapper);
            System.err.println("Init error: " + new String(body, StandardCharsets.UTF_8));
            api.initError(e.errorType, body);
            System.exit(1);
            return;
        }
        while (true) {
            RuntimeApi.Invocation inv = api.next();
            String requestId = inv.header("lambda-runtime-aws-request-id");
            String trace = inv.header("lambda-runtime-trace-id");
            if (trace != null) {
                System.setProperty("com.amazonaws.xray.traceHeader", trace);
            } else {
                System.clearProperty("com.amazonaws.xray.traceHeader");
            }
            byte[] response;
            try {
                response = handler.invoke(inv.event, new InvocationContext(inv, logger, mapper));
            } catch (Throwable t) {
                String type = t instanceof Handler.EventParseError ? "java.lang.RuntimeException" : t.getClass().getName();
                byte[] body = Errors.body(type, t.getMessage(), t, mapper);
                System.err.println(new String(body, StandardCharsets.UTF_8));
                api.invocationError(requestId, type, body);
                if (t instanceof VirtualMachineError) {
                    System.exit(1); // the JVM cannot be trusted after OutOfMemoryError and its kind
                }
                continue;
            }
            api.respond(requestId, response);
        }
    }

    static ObjectMapper mapper() {
        return JsonMapper.builder()
                .enable(MapperFeature.ACCEPT_CASE_INSENSITIVE_PROPERTIES)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
                .build();
    }

    static LambdaLogger logger(PrintStream out) {
        return new LambdaLogger() {
            // One call, one log line (AWS makes each call one log event).
            public void log(String message) {
                String text = String.valueOf(message);
                synchronized (out) {
                    out.print(text.endsWith("\n") ? text : text + "\n");
                    out.flush();
                }
            }

            public void log(byte[] message) {
                log(new String(message, StandardCharsets.UTF_8));
            }
        };
    }

    private static ClassLoader taskLoader() throws MalformedURLException {
        List<URL> urls = new ArrayList<>();
        File root = new File(env("LAMBDA_TASK_ROOT", "/var/task"));
        urls.add(root.toURI().toURL());
        for (File dir : new File[] {new File(root, "lib"), new File("/opt/java/lib"), new File("/opt/java")}) {
            File[] jars = dir.listFiles((d, name) -> name.endsWith(".jar"));
            if (jars != null) {
                Arrays.sort(jars);
                for (File jar : jars) {
                    urls.add(jar.toURI().toURL());
                }
            }
        }
        return new URLClassLoader(urls.toArray(new URL[0]), Bootstrap.class.getClassLoader());
    }

    private static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null ? fallback : value;
    }

    private static void warmUp(ObjectMapper mapper) throws Throwable {
        Map<String, Object> sample = new LinkedHashMap<>();
        sample.put("list", Arrays.asList(1, "two", 3.0, true, null));
        byte[] json = mapper.writeValueAsBytes(sample);
        mapper.readValue(json, Map.class);
        mapper.readTree(json);
        Errors.body("java.lang.RuntimeException", "warm", new RuntimeException("warm"), mapper);
        WarmUp.run(mapper, System.out);
    }
}

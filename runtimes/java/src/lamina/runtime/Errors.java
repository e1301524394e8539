package lamina.runtime;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Lambda's error document for Java: errorMessage, errorType, stackTrace and the cause chain. */
final class Errors {
    private Errors() {
    }

    static byte[] body(String type, String message, Throwable t, ObjectMapper mapper) {
        try {
            return mapper.writeValueAsBytes(document(type, message, t, 0));
        } catch (Exception e) {
            return ("{\"errorMessage\":\"cannot serialize the error\",\"errorType\":\"" + type + "\"}").getBytes();
        }
    }

    private static Map<String, Object> document(String type, String message, Throwable t, int depth) {
        Map<String, Object> doc = new LinkedHashMap<>();
        if (message != null) {
            doc.put("errorMessage", message);
        }
        doc.put("errorType", type);
        doc.put("stackTrace", trace(t));
        Throwable cause = t == null ? null : t.getCause();
        if (cause != null && cause != t && depth < 8) {
            doc.put("cause", document(cause.getClass().getName(), cause.getMessage(), cause, depth + 1));
        }
        return doc;
    }

    /** The frames of the function's code: the trace is cut where the runtime's reflection called it. */
    private static List<String> trace(Throwable t) {
        List<String> frames = new ArrayList<>();
        if (t == null) {
            return frames;
        }
        for (StackTraceElement frame : t.getStackTrace()) {
            String cls = frame.getClassName();
            if (cls.startsWith("jdk.internal.reflect.") || cls.startsWith("java.lang.reflect.")
                    || cls.startsWith("lamina.runtime.")) {
                break;
            }
            frames.add(frame.toString());
        }
        return frames;
    }
}

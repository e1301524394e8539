package lamina.runtime;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The client side of the Lambda Runtime API 2018-06-01 (HttpURLConnection keeps the connection alive). */
final class RuntimeApi {
    static final String VERSION = "2018-06-01";

    /** One invocation: its headers (lower-case names) and its event. */
    static final class Invocation {
        final Map<String, String> headers;
        final byte[] event;

        Invocation(Map<String, String> headers, byte[] event) {
            this.headers = headers;
            this.event = event;
        }

        String header(String name) {
            return headers.get(name);
        }
    }

    private final String base;

    RuntimeApi(String address) {
        this.base = "http://" + address + "/" + VERSION + "/runtime/";
    }

    Invocation next() throws IOException {
        HttpURLConnection conn = open("invocation/next");
        conn.setReadTimeout(0); // blocks until the platform has an invocation for this environment
        int status = conn.getResponseCode();
        byte[] body = readAll(status < 400 ? conn.getInputStream() : conn.getErrorStream());
        if (status != 200) {
            throw new IOException("invocation/next answered HTTP " + status);
        }
        Map<String, String> headers = new TreeMap<>();
        for (Map.Entry<String, List<String>> h : conn.getHeaderFields().entrySet()) {
            if (h.getKey() != null && !h.getValue().isEmpty()) {
                headers.put(h.getKey().toLowerCase(), h.getValue().get(0));
            }
        }
        return new Invocation(headers, body);
    }

    void respond(String requestId, byte[] body) throws IOException {
        post("invocation/" + requestId + "/response", body, null);
    }

    void invocationError(String requestId, String errorType, byte[] body) throws IOException {
        post("invocation/" + requestId + "/error", body, errorType);
    }

    void initError(String errorType, byte[] body) throws IOException {
        post("init/error", body, errorType);
    }

    private HttpURLConnection open(String path) throws IOException {
        HttpURLConnection conn = (HttpURLConnection) new URL(base + path).openConnection();
        conn.setUseCaches(false);
        return conn;
    }

    private void post(String path, byte[] body, String errorType) throws IOException {
        HttpURLConnection conn = open(path);
        conn.setRequestMethod("POST");
        conn.setDoOutput(true);
        conn.setFixedLengthStreamingMode(body.length);
        conn.setRequestProperty("Content-Type", "application/json");
        if (errorType != null) {
            conn.setRequestProperty("Lambda-Runtime-Function-Error-Type", errorType);
        }
        try (OutputStream out = conn.getOutputStream()) {
            out.write(body);
        }
        int status = conn.getResponseCode();
        InputStream reply = status < 400 ? conn.getInputStream() : conn.getErrorStream();
        byte[] text = readAll(reply); // read to the end, so the connection is kept for the next call
        if (status >= 400) {
            System.err.println("Runtime API " + path + " answered HTTP " + status + ": "
                    + new String(text, StandardCharsets.UTF_8));
        }
    }

    static byte[] readAll(InputStream in) throws IOException {
        if (in == null) {
            return new byte[0];
        }
        try (InputStream stream = in) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[16384];
            for (int n; (n = stream.read(buf)) > 0; ) {
                out.write(buf, 0, n);
            }
            return out.toByteArray();
        }
    }
}

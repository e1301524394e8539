package lamina.runtime;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

/**
 * The client side of the Lambda Runtime API 2018-06-01 on one kept-alive connection, written and parsed
 * here: HttpURLConnection costs several times the CPU per call, and at 128 MB every call spends the
 * function's share (the platform's side always sends Content-Length).
 */
final class RuntimeApi {
    static final String VERSION = "2018-06-01";
    private static final int MAX_HEAD = 2 * 1024 * 1024; // headers up to 1 MiB, with room

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

    private static final class Reply {
        final int status;
        final Map<String, String> headers;
        final byte[] body;

        Reply(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }
    }

    private final String host;
    private final int port;
    private final String prefix;
    private Socket socket;
    private InputStream in;
    private OutputStream out;

    RuntimeApi(String address) {
        int colon = address.lastIndexOf(':');
        this.host = address.substring(0, colon);
        this.port = Integer.parseInt(address.substring(colon + 1));
        this.prefix = "/" + VERSION + "/runtime/";
    }

    Invocation next() throws IOException {
        Reply reply = call("GET", "invocation/next", null, null);
        if (reply.status != 200) {
            throw new IOException("invocation/next answered HTTP " + reply.status);
        }
        return new Invocation(reply.headers, reply.body);
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

    private void post(String path, byte[] body, String errorType) throws IOException {
        Reply reply = call("POST", path, body, errorType);
        if (reply.status >= 400) {
            System.err.println("Runtime API " + path + " answered HTTP " + reply.status + ": "
                    + new String(reply.body, StandardCharsets.UTF_8));
        }
    }

    private Reply call(String method, String path, byte[] body, String errorType) throws IOException {
        if (socket == null) {
            socket = new Socket();
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(host, port));
            in = new BufferedInputStream(socket.getInputStream(), 65536);
            out = socket.getOutputStream();
        }
        StringBuilder head = new StringBuilder(256).append(method).append(' ').append(prefix).append(path)
                .append(" HTTP/1.1\r\nHost: ").append(host).append(':').append(port).append("\r\n");
        if (body != null) {
            head.append("Content-Type: application/json\r\n");
        }
        if (errorType != null) {
            head.append("Lambda-Runtime-Function-Error-Type: ").append(errorType).append("\r\n");
        }
        head.append("Content-Length: ").append(body == null ? 0 : body.length).append("\r\n\r\n");
        byte[] headBytes = head.toString().getBytes(StandardCharsets.UTF_8);
        if (body == null) {
            out.write(headBytes);
        } else {
            byte[] all = new byte[headBytes.length + body.length];
            System.arraycopy(headBytes, 0, all, 0, headBytes.length);
            System.arraycopy(body, 0, all, headBytes.length, body.length);
            out.write(all);
        }
        out.flush();
        try {
            return read();
        } catch (IOException e) {
            close();
            throw e;
        }
    }

    private Reply read() throws IOException {
        String status = line();
        int space = status.indexOf(' ');
        int code = Integer.parseInt(status.substring(space + 1, space + 4));
        Map<String, String> headers = new TreeMap<>();
        int total = 0;
        for (String line; !(line = line()).isEmpty(); ) {
            total += line.length();
            if (total > MAX_HEAD) {
                throw new IOException("Runtime API headers too large");
            }
            int colon = line.indexOf(':');
            if (colon > 0) {
                headers.put(line.substring(0, colon).trim().toLowerCase(), line.substring(colon + 1).trim());
            }
        }
        String length = headers.get("content-length");
        byte[] body = new byte[length == null ? 0 : Integer.parseInt(length)];
        for (int off = 0; off < body.length; ) {
            int n = in.read(body, off, body.length - off);
            if (n < 0) {
                throw new EOFException("Runtime API closed the connection mid-body");
            }
            off += n;
        }
        if ("close".equalsIgnoreCase(headers.get("connection"))) {
            close();
        }
        return new Reply(code, headers, body);
    }

    /** One header line (ISO-8859-1, as HTTP's header bytes are), without its CRLF. */
    private String line() throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(128);
        for (int b; (b = in.read()) != '\n'; ) {
            if (b < 0) {
                throw new EOFException("Runtime API closed the connection");
            }
            if (b != '\r') {
                buf.write(b);
            }
        }
        return buf.toString(StandardCharsets.ISO_8859_1);
    }

    private void close() {
        try {
            if (socket != null) {
                socket.close();
            }
        } catch (IOException ignored) {
            // already gone
        }
        socket = null;
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

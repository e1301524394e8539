package lamina.runtime;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Run at image build only (``bootstrap --archive``): one whole invocation against a local stand-in of the
 * Runtime API, so the class-data archive holds every class a real start and first invoke load (the HTTP
 * client, reflection, Jackson's serializers) and the JVM need not load them from jars at a cold start.
 */
public final class WarmUp implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        Map<String, Object> out = new LinkedHashMap<>(event);
        out.put("remaining", context.getRemainingTimeInMillis());
        out.put("request", context.getAwsRequestId());
        context.getLogger().log("warm");
        return out;
    }

    static void run(ObjectMapper mapper, PrintStream log) throws Throwable {
        try (ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
            Thread api = new Thread(() -> serve(server));
            api.setDaemon(true);
            api.start();
            RuntimeApi client = new RuntimeApi("127.0.0.1:" + server.getLocalPort());
            Handler handler = Handler.load(WarmUp.class.getName(), WarmUp.class.getClassLoader(), mapper);
            RuntimeApi.Invocation inv = client.next();
            byte[] body = handler.invoke(inv.event, new InvocationContext(inv, Bootstrap.logger(log), mapper));
            client.respond(inv.header("lambda-runtime-aws-request-id"), body);
            byte[] error = Errors.body("java.lang.RuntimeException", "warm", new RuntimeException("warm"), mapper);
            client.invocationError(inv.header("lambda-runtime-aws-request-id"), "java.lang.RuntimeException", error);
        }
    }

    /** Answer next, response and error once each, on one kept-alive connection. */
    private static void serve(ServerSocket server) {
        try (Socket conn = server.accept()) {
            BufferedReader in = new BufferedReader(new InputStreamReader(conn.getInputStream(), StandardCharsets.UTF_8));
            OutputStream out = conn.getOutputStream();
            for (int i = 0; i < 3; i++) {
                int length = 0;
                for (String line; (line = in.readLine()) != null && !line.isEmpty(); ) {
                    if (line.toLowerCase().startsWith("content-length:")) {
                        length = Integer.parseInt(line.substring(15).trim());
                    }
                }
                for (int n = 0; n < length; n++) {
                    in.read();
                }
                String body = i == 0 ? "{\"warm\":[1,\"two\",3.0,true,null]}" : "{\"status\":\"OK\"}";
                String head = (i == 0 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 202 Accepted\r\n")
                        + "Content-Type: application/json\r\n"
                        + "Lambda-Runtime-Aws-Request-Id: 00000000-0000-0000-0000-000000000000\r\n"
                        + "Lambda-Runtime-Deadline-Ms: " + (System.currentTimeMillis() + 3000) + "\r\n"
                        + "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:warm\r\n"
                        + "Content-Length: " + body.length() + "\r\n\r\n";
                out.write((head + body).getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
        } catch (Exception e) {
            // the build goes on without a complete archive
        }
    }
}

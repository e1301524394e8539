package lamina.runtime;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.Map;

/** The Context of one invocation, from the /next headers and the environment's variables. */
final class InvocationContext implements Context {
    private final RuntimeApi.Invocation invocation;
    private final LambdaLogger logger;
    private final long deadlineMs;
    private final ObjectMapper mapper;

    InvocationContext(RuntimeApi.Invocation invocation, LambdaLogger logger, ObjectMapper mapper) {
        this.invocation = invocation;
        this.logger = logger;
        this.mapper = mapper;
        long deadline;
        try {
            deadline = Long.parseLong(invocation.header("lambda-runtime-deadline-ms"));
        } catch (RuntimeException e) {
            deadline = System.currentTimeMillis() + 3000;
        }
        this.deadlineMs = deadline;
    }

    public String getAwsRequestId() {
        return invocation.header("lambda-runtime-aws-request-id");
    }

    public String getLogGroupName() {
        return System.getenv("AWS_LAMBDA_LOG_GROUP_NAME");
    }

    public String getLogStreamName() {
        return System.getenv("AWS_LAMBDA_LOG_STREAM_NAME");
    }

    public String getFunctionName() {
        return System.getenv("AWS_LAMBDA_FUNCTION_NAME");
    }

    public String getFunctionVersion() {
        return System.getenv("AWS_LAMBDA_FUNCTION_VERSION");
    }

    public String getInvokedFunctionArn() {
        return invocation.header("lambda-runtime-invoked-function-arn");
    }

    public CognitoIdentity getIdentity() {
        JsonNode node = json(invocation.header("lambda-runtime-cognito-identity"));
        if (node == null) {
            return null;
        }
        String id = text(node, "cognitoIdentityId", "identityId");
        String pool = text(node, "cognitoIdentityPoolId", "identityPoolId");
        return new CognitoIdentity() {
            public String getIdentityId() {
                return id;
            }

            public String getIdentityPoolId() {
                return pool;
            }
        };
    }

    public ClientContext getClientContext() {
        JsonNode node = json(invocation.header("lambda-runtime-client-context"));
        if (node == null) {
            return null;
        }
        JsonNode client = node.path("client");
        Map<String, String> custom = strings(node.path("custom"));
        Map<String, String> env = strings(node.path("env"));
        Client app = new Client() {
            public String getInstallationId() {
                return text(client, "installation_id", "installationId");
            }

            public String getAppTitle() {
                return text(client, "app_title", "appTitle");
            }

            public String getAppVersionName() {
                return text(client, "app_version_name", "appVersionName");
            }

            public String getAppVersionCode() {
                return text(client, "app_version_code", "appVersionCode");
            }

            public String getAppPackageName() {
                return text(client, "app_package_name", "appPackageName");
            }
        };
        return new ClientContext() {
            public Client getClient() {
                return app;
            }

            public Map<String, String> getCustom() {
                return custom;
            }

            public Map<String, String> getEnvironment() {
                return env;
            }
        };
    }

    public int getRemainingTimeInMillis() {
        return (int) Math.max(0, deadlineMs - System.currentTimeMillis());
    }

    public int getMemoryLimitInMB() {
        try {
            return Integer.parseInt(System.getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
        } catch (RuntimeException e) {
            return 128;
        }
    }

    public LambdaLogger getLogger() {
        return logger;
    }

    public String getXrayTraceId() {
        return invocation.header("lambda-runtime-trace-id");
    }

    public String getTenantId() {
        return invocation.header("lambda-runtime-aws-tenant-id");
    }

    private JsonNode json(String text) {
        if (text == null || text.isEmpty()) {
            return null;
        }
        try {
            return mapper.readTree(text);
        } catch (Exception e) {
            return null;
        }
    }

    private static String text(JsonNode node, String... names) {
        for (String name : names) {
            JsonNode value = node.get(name);
            if (value != null && !value.isNull()) {
                return value.asText();
            }
        }
        return null;
    }

    private static Map<String, String> strings(JsonNode node) {
        Map<String, String> out = new LinkedHashMap<>();
        node.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
    }
}

package com.amazonaws.services.lambda.runtime;

/** The logger outside an invocation (static initializers, constructors). */
public final class LambdaRuntime {
    private LambdaRuntime() {
    }

    public static volatile LambdaLogger logger = new LambdaLogger() {
        public void log(String message) {
            System.out.print(message);
            System.out.flush();
        }

        public void log(byte[] message) {
            System.out.write(message, 0, message.length);
            System.out.flush();
        }
    };

    public static LambdaLogger getLogger() {
        return logger;
    }
}

package lamina.runtime;

/** A handler that cannot be loaded: reported to /runtime/init/error with Lambda's Java error type. */
final class HandlerError extends Exception {
    final String errorType;

    HandlerError(String errorType, String message, Throwable cause) {
        super(message, cause);
        this.errorType = errorType;
    }
}

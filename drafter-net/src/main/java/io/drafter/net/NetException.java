package io.drafter.net;

/**
 * A networking step failed. The message is one line of the form {@code could not <step>: <detail>} and is meant
 * to be shown to the user as it is.
 */
public class NetException extends RuntimeException {
    /** Creates the exception with a one-line message. */
    public NetException(String message) {
        super(message);
    }

    /** Creates the exception with a one-line message and the failure that caused it. */
    public NetException(String message, Throwable cause) {
        super(message, cause);
    }
}

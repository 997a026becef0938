package io.drafter.vm;

import java.io.IOException;

/** A VM operation that failed; the message reads {@code could not <step>: <detail>}. */
public class VmException extends IOException {
    /** Creates the exception with a one-line message naming the step and what was wrong. */
    public VmException(String message) {
        super(message);
    }

    /** Creates the exception with a one-line message and the underlying cause. */
    public VmException(String message, Throwable cause) {
        super(message, cause);
    }
}

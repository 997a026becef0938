package io.drafter.vm.qmp;

import io.drafter.vm.VmException;

/** A QMP exchange that failed: QEMU answered with an error, the socket broke, or a deadline passed. */
public final class QmpException extends VmException {
    /** Creates the exception; {@code message} reads {@code could not <step>: <detail>}. */
    public QmpException(String message) {
        super(message);
    }

    /** Creates the exception with its cause. */
    public QmpException(String message, Throwable cause) {
        super(message, cause);
    }
}

package io.drafter.pkg;

import java.io.IOException;

/** A package could not be written or read; the message is one line: {@code could not <step>: <detail>}. */
public final class PackageException extends IOException {
    public PackageException(String message) {
        super(message);
    }

    public PackageException(String message, Throwable cause) {
        super(message, cause);
    }
}

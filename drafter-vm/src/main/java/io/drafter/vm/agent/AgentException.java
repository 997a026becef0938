package io.drafter.vm.agent;

import io.drafter.vm.VmException;

/** A failed agent exchange, with the reason as a {@link Kind}. */
public final class AgentException extends VmException {
    /** Why an agent call failed. */
    public enum Kind {
        /** The guest did not answer (or announce readiness) in time. */
        TIMEOUT,
        /** The guest answered {@code "ok":false}: a hook failed. */
        GUEST_ERROR,
        /** The channel closed or could not be opened. */
        DISCONNECTED,
        /** The guest sent something that is not a valid message. */
        PROTOCOL
    }

    private final Kind kind;

    /** Creates the exception; {@code message} reads {@code could not <step>: <detail>}. */
    public AgentException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    /** Why the call failed. */
    public Kind kind() {
        return kind;
    }
}

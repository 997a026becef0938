package io.drafter.vm.agent;

/** The calls the host makes on the guest agent; each is one JSON line {@code {"call":NAME,"id":N,...}}. */
public sealed interface AgentCall {
    /** The wire name of the call. */
    String name();

    /** Flush the guest (sync) and run its before-suspend hooks; sent before pausing for a snapshot. */
    record BeforeSuspend() implements AgentCall {
        @Override
        public String name() {
            return "BeforeSuspend";
        }
    }

    /** Set the guest clock to {@code epochSeconds} and run its after-resume hooks; sent after resuming. */
    record AfterResume(long epochSeconds) implements AgentCall {
        @Override
        public String name() {
            return "AfterResume";
        }
    }

    /** A no-op the guest answers at once; tells whether the agent is responsive. */
    record Ping() implements AgentCall {
        @Override
        public String name() {
            return "Ping";
        }
    }
}

package io.drafter.vm.qmp;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;

/** The QMP commands Drafter sends; each knows its wire name and arguments. */
public sealed interface QmpCommand {
    /** The QMP {@code execute} name. */
    String name();

    /** The {@code arguments} object, or {@code null} when the command takes none. */
    default ObjectNode arguments() {
        return null;
    }

    /** Leaves capabilities negotiation mode; the first command of every session. */
    record Capabilities() implements QmpCommand {
        @Override
        public String name() {
            return "qmp_capabilities";
        }
    }

    /** Pauses every vCPU. */
    record Stop() implements QmpCommand {
        @Override
        public String name() {
            return "stop";
        }
    }

    /** Resumes the vCPUs. */
    record Cont() implements QmpCommand {
        @Override
        public String name() {
            return "cont";
        }
    }

    /** Ends QEMU. */
    record Quit() implements QmpCommand {
        @Override
        public String name() {
            return "quit";
        }
    }

    /** Asks for the run state ({@code running}, {@code paused}, {@code inmigrate}, …). */
    record QueryStatus() implements QmpCommand {
        @Override
        public String name() {
            return "query-status";
        }
    }

    /** Asks for the migration status. */
    record QueryMigrate() implements QmpCommand {
        @Override
        public String name() {
            return "query-migrate";
        }
    }

    /** Sets migration capabilities, e.g. {@code x-ignore-shared}. */
    record MigrateSetCapabilities(Map<String, Boolean> capabilities) implements QmpCommand {
        @Override
        public String name() {
            return "migrate-set-capabilities";
        }

        @Override
        public ObjectNode arguments() {
            ObjectNode args = JsonNodeFactory.instance.objectNode();
            var list = args.putArray("capabilities");
            capabilities.forEach((k, v) -> list.addObject().put("capability", k).put("state", v));
            return args;
        }
    }

    /** Starts an outgoing migration to {@code uri} (e.g. {@code file:/path/state.bin}). */
    record Migrate(String uri) implements QmpCommand {
        @Override
        public String name() {
            return "migrate";
        }

        @Override
        public ObjectNode arguments() {
            return JsonNodeFactory.instance.objectNode().put("uri", uri);
        }
    }

    /** Starts an incoming migration from {@code uri} on a QEMU started with {@code -incoming defer}. */
    record MigrateIncoming(String uri) implements QmpCommand {
        @Override
        public String name() {
            return "migrate-incoming";
        }

        @Override
        public ObjectNode arguments() {
            return JsonNodeFactory.instance.objectNode().put("uri", uri);
        }
    }
}

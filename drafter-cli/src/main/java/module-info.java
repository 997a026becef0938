/**
 * The {@code drafter} command and its Drafter-compatible launchers. Nothing is exported: the command is the API. The
 * shaded {@code drafter.jar} runs it on the class path.
 */
module io.drafter.cli {
    requires io.drafter.base;
    requires io.drafter.linux;
    requires io.drafter.migration;
    requires io.drafter.net;
    requires io.drafter.peer;
    requires io.drafter.pkg;
    requires io.drafter.storage;
    requires io.drafter.vm;
    requires com.fasterxml.jackson.databind;
    requires info.picocli;
    requires java.logging; // LogSetup: one-line records through java.util.logging
    requires jdk.unsupported; // sun.misc.Signal: StopSignals turns SIGINT, SIGTERM and SIGHUP into one ordered stop

    // picocli sets the annotated option fields and calls the commands by reflection
    opens io.drafter.cli to
            info.picocli;
}

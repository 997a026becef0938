package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class DrafterTest {
    @Test
    void unknownSubcommandIsOneClearLineAndExitTwo() {
        StringWriter err = new StringWriter();
        var cli = Drafter.commandLine();
        cli.setErr(new PrintWriter(err));
        int code = cli.execute("no-such-thing");
        assertEquals(2, code);
        assertTrue(err.toString().startsWith("drafter: "), err.toString());
    }
}

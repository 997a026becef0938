package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.vm.testing.TestGuest;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The scripts and launchers a user runs by their path ({@code sudo scripts/quickstart.sh}, {@code bin/drafter}) are
 * executable in the checkout: each file of {@code scripts/} and {@code bin/} that starts with {@code #!}. The ones
 * without it are sourced ({@code scripts/lib-vm.sh}).
 */
class ScriptModesTest {
    @Test
    void everyScriptWithAShebangIsExecutable() throws IOException {
        Path repo = TestGuest.repoRoot();
        List<String> notExecutable = new ArrayList<>();
        int scripts = 0;
        for (String dir : List.of("scripts", "bin")) {
            try (Stream<Path> files = Files.list(repo.resolve(dir))) {
                for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                    if (startsWithShebang(f)) {
                        scripts++;
                        if (!Files.isExecutable(f)) {
                            notExecutable.add(repo.relativize(f).toString());
                        }
                    }
                }
            }
        }
        assertTrue(scripts > 20, "found only " + scripts + " scripts under " + repo);
        assertEquals(List.of(), notExecutable, "scripts that a user runs by their path but cannot");
    }

    private static boolean startsWithShebang(Path f) throws IOException {
        try (InputStream in = Files.newInputStream(f)) {
            return in.read() == '#' && in.read() == '!';
        }
    }
}

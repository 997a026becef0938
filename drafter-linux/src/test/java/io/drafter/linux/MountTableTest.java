package io.drafter.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class MountTableTest {
    @Test
    void parsesAMountinfoLineWithOptionalFieldsAndEscapes() {
        var e = MountTable.parse(
                "36 35 0:63 / /tmp/with\\040space rw,nosuid,nodev,relatime shared:1 master:2 - fuse.drafter drafter"
                        + " rw,user_id=0");
        assertEquals(new MountTable.Entry("0:63", "/tmp/with space", "fuse.drafter", "drafter"), e);
    }

    @Test
    void malformedLinesAreSkipped() {
        assertNull(MountTable.parse("garbage"));
        assertNull(MountTable.parse("1 2 3 4 5 6 7 8"));
    }

    @Test
    void unescapeLeavesIncompleteEscapesAlone() {
        assertEquals("a\\04", MountTable.unescape("a\\04"));
        assertEquals("a\\x41", MountTable.unescape("a\\x41"));
        assertEquals("tab\there", MountTable.unescape("tab\\011here"));
    }

    @Test
    void readsThisProcessesMountTable() throws Exception {
        assertFalse(MountTable.read().isEmpty());
        assertEquals("/", MountTable.at(Path.of("/")).getLast().mountPoint());
    }
}

package io.drafter.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PortForwardTest {
    @Test
    void parsesDrafterJsonUnchanged() {
        List<PortForward> all = PortForward.parseList("""
                [
                  {
                    "netns": "ark0",
                    "internalPort": "6379",
                    "protocol": "tcp",
                    "externalAddr": "127.0.0.1:3333"
                  }
                ]""");
        assertEquals(List.of(new PortForward("ark0", "6379", "tcp", "127.0.0.1:3333")), all);
        PortForward f = all.getFirst();
        assertEquals(6379, f.internalPortNumber());
        assertEquals("127.0.0.1", f.externalHost());
        assertEquals(3333, f.externalPort());
    }

    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            value = {
                "[{\"netns\":\"ark0\"|malformed port forwards JSON: Unexpected end-of-input",
                "{}|malformed port forwards JSON: Cannot deserialize value",
                "[{\"netns\":\"ark0\",\"internalPort\":\"6379\",\"protocol\":\"tcp\"}]|port forward 0: \"externalAddr\" is missing",
                "[{\"internalPort\":\"6379\",\"protocol\":\"tcp\",\"externalAddr\":\"127.0.0.1:1\"}]|port forward 0: \"netns\" is missing",
                "[{\"netns\":\"ark0\",\"internalPort\":\"x\",\"protocol\":\"tcp\",\"externalAddr\":\"127.0.0.1:1\"}]|port forward 0: \"internalPort\" 'x' is not a number",
                "[{\"netns\":\"ark0\",\"internalPort\":\"70000\",\"protocol\":\"tcp\",\"externalAddr\":\"127.0.0.1:1\"}]|port forward 0: \"internalPort\" 70000 is not in 1..65535",
                "[{\"netns\":\"ark0\",\"internalPort\":\"1\",\"protocol\":\"sctp\",\"externalAddr\":\"127.0.0.1:1\"}]|port forward 0: \"protocol\" 'sctp' is not tcp or udp",
                "[{\"netns\":\"ark0\",\"internalPort\":\"1\",\"protocol\":\"tcp\",\"externalAddr\":\"127.0.0.1\"}]|port forward 0: \"externalAddr\" '127.0.0.1' is not host:port",
                "[{\"netns\":\"ark0\",\"internalPort\":\"1\",\"protocol\":\"tcp\",\"externalAddr\":\"127.0.0.1:1\",\"x\":1}]|malformed port forwards JSON: Unrecognized field \"x\"",
                "null|malformed port forwards JSON: expected a list, got null",
            })
    void malformedInputIsOneLine(String json, String expectedStart) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PortForward.parseList(json));
        assertTrue(e.getMessage().startsWith(expectedStart), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
}

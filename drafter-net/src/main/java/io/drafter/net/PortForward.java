package io.drafter.net;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import java.util.Locale;

/**
 * One entry of Drafter's {@code --port-forwards} JSON:
 * {@code {"netns":"ark0","internalPort":"6379","protocol":"tcp","externalAddr":"127.0.0.1:3333"}}.
 * {@code internalPort} is a string, as in Drafter.
 *
 * @param netns namespace holding the guest
 * @param internalPort guest port, as a decimal string
 * @param protocol {@code tcp} or {@code udp}
 * @param externalAddr {@code host:port} on this host that reaches the guest port
 */
public record PortForward(
        @JsonProperty("netns") String netns,
        @JsonProperty("internalPort") String internalPort,
        @JsonProperty("protocol") String protocol,
        @JsonProperty("externalAddr") String externalAddr) {

    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true)
            .configure(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, true);

    /** Jackson entry point; validation happens in {@link #parseList}. */
    @JsonCreator
    public PortForward {}

    /**
     * Parses and validates Drafter's JSON list. Throws {@link IllegalArgumentException} with one line naming what
     * is wrong (which entry, which field).
     */
    public static List<PortForward> parseList(String json) {
        PortForward[] parsed;
        try {
            parsed = JSON.readValue(json, PortForward[].class);
        } catch (JsonProcessingException e) {
            String at = e.getLocation() == null
                    ? ""
                    : " (line " + e.getLocation().getLineNr() + ", column "
                            + e.getLocation().getColumnNr() + ")";
            throw new IllegalArgumentException(
                    "malformed port forwards JSON: " + firstLine(e.getOriginalMessage()) + at);
        }
        if (parsed == null) {
            throw new IllegalArgumentException("malformed port forwards JSON: expected a list, got null");
        }
        for (int i = 0; i < parsed.length; i++) {
            PortForward f = parsed[i];
            if (f == null) {
                throw new IllegalArgumentException("port forward " + i + " is null");
            }
            f.validate(i);
        }
        return List.of(parsed);
    }

    /** The guest port as a number. */
    public int internalPortNumber() {
        return Integer.parseInt(internalPort);
    }

    /** The host part of {@code externalAddr}. */
    public String externalHost() {
        return externalAddr.substring(0, externalAddr.lastIndexOf(':'));
    }

    /** The port part of {@code externalAddr}. */
    public int externalPort() {
        return Integer.parseInt(externalAddr.substring(externalAddr.lastIndexOf(':') + 1));
    }

    /** {@code tcp} or {@code udp}, lower case. */
    public String protocolName() {
        return protocol.toLowerCase(Locale.ROOT);
    }

    private void validate(int i) {
        String where = "port forward " + i;
        if (netns == null || netns.isBlank()) {
            throw new IllegalArgumentException(where + ": \"netns\" is missing");
        }
        if (!netns.matches("[A-Za-z0-9_.-]+")) {
            throw new IllegalArgumentException(where + ": \"netns\" '" + netns + "' is not a namespace name");
        }
        if (internalPort == null) {
            throw new IllegalArgumentException(where + ": \"internalPort\" is missing");
        }
        port(where + ": \"internalPort\"", internalPort);
        if (protocol == null) {
            throw new IllegalArgumentException(where + ": \"protocol\" is missing");
        }
        if (!protocolName().equals("tcp") && !protocolName().equals("udp")) {
            throw new IllegalArgumentException(where + ": \"protocol\" '" + protocol + "' is not tcp or udp");
        }
        if (externalAddr == null) {
            throw new IllegalArgumentException(where + ": \"externalAddr\" is missing");
        }
        int colon = externalAddr.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException(where + ": \"externalAddr\" '" + externalAddr + "' is not host:port");
        }
        port(where + ": \"externalAddr\" port", externalAddr.substring(colon + 1));
    }

    private static void port(String what, String text) {
        int p;
        try {
            p = Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + " '" + text + "' is not a number");
        }
        if (p < 1 || p > 65535) {
            throw new IllegalArgumentException(what + " " + p + " is not in 1..65535");
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unreadable";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}

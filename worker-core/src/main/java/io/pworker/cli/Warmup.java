package io.pworker.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.UUID;

/**
 * Loads and initializes the classes a worker's first API request needs (the JDK's HTTP client, Jackson, the
 * secure random behind UUIDs), on the plugin thread once the plugins are found, while the main thread parses the
 * command line and reads the settings. Class initialization happens once per JVM, so the main thread then finds it
 * done: measured, the first request otherwise spends most of its ~80 ms in it. Nothing here talks to the network.
 */
final class Warmup {

    private Warmup() {
    }

    static void firstRequest() {
        try {
            ObjectMapper json = new ObjectMapper();
            json.readTree(json.writeValueAsBytes(json.createObjectNode().put("id", UUID.randomUUID().toString())
                    .put("n", 1.5).putNull("none")));
            HttpRequest.newBuilder(URI.create("http://127.0.0.1/api")).timeout(Duration.ofSeconds(1))
                    .header("Accept", "application/json")
                    .method("POST", HttpRequest.BodyPublishers.ofByteArray(new byte[0])).build();
            HttpResponse.BodyHandlers.ofByteArray();
            Class.forName("jdk.internal.net.http.HttpClientImpl", true, ClassLoader.getPlatformClassLoader());
            Class.forName("jdk.internal.net.http.Http1Exchange", true, ClassLoader.getPlatformClassLoader());
        } catch (Exception | LinkageError e) {
            // only a head start: whatever fails here is done, or reported, by the real request
        }
    }
}

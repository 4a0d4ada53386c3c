package io.pworker.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.CreateContainerCmd;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.HostConfig;
import com.github.dockerjava.core.DockerClientConfig;
import com.github.dockerjava.core.command.CreateContainerCmdImpl;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.LaunchException;
import io.pworker.spi.RunLog;
import io.pworker.spi.ShellWords;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The container one flow run asks for, translated from its job configuration into what the engine's create call
 * takes: the environment with the API URL made reachable from inside, Docker-style labels, the host
 * configuration, the supported {@code container_create_kwargs} and the name. Built once per launch; every create
 * attempt (a name in use is retried with a suffix) gets a fresh command from it.
 */
final class ContainerSpec {

    /** The label that ties a container to its flow run; a launch looks for it before creating anything. */
    static final String FLOW_RUN_ID = "io.prefect.flow-run-id";
    static final String WORK_POOL_ID = "io.prefect.work-pool-id";
    static final String WORKER_NAME = "io.prefect.worker-name";

    private final DockerJobConfiguration config;
    private final Map<String, String> env;
    private final Map<String, String> labels;
    private final String networkMode;
    private final List<String> extraHosts;
    private final List<Bind> binds;
    private final String baseName;

    /** @throws LaunchException when a value cannot be expressed for the engine, naming its key */
    ContainerSpec(DockerJobConfiguration config, FlowRunInfo run, RunLog log) throws LaunchException {
        this.config = config;
        Map<String, String> environment = new LinkedHashMap<>(config.env());
        List<String> hosts = new ArrayList<>();
        String mode = config.networkMode();
        String apiUrl = environment.get("PREFECT_API_URL");
        if (apiUrl != null && pointsAtThisHost(apiUrl)) {
            if (mode == null && config.networks().isEmpty() && isLinux()) {
                // the flow reaches a local API through the host's own network, as Prefect's worker arranges
                mode = "host";
            } else if (!"host".equals(mode)) {
                environment.put("PREFECT_API_URL",
                        apiUrl.replaceFirst("//(localhost|127\\.0\\.0\\.1)", "//host.docker.internal"));
                if (isLinux() && !"none".equals(mode)) {
                    hosts.add("host.docker.internal:host-gateway");
                }
            }
        }
        if (mode == null && !config.networks().isEmpty()) {
            mode = config.networks().getFirst();
        }
        Map<String, String> dockerLabels = new LinkedHashMap<>();
        config.labels().forEach((k, v) -> dockerLabels.put(dockerLabel(k), v));
        // whatever the template did with the labels, the container must be findable by its run
        dockerLabels.put(FLOW_RUN_ID, run.id());
        List<Bind> volumes = new ArrayList<>();
        for (String v : config.volumes()) {
            try {
                volumes.add(Bind.parse(v));
            } catch (RuntimeException e) {
                throw new LaunchException("invalid job configuration 'volumes': '" + v + "' is not host:container[:mode]");
            }
        }
        hosts.addAll(kwargExtraHosts(config.containerCreateKwargs()));
        warnAboutIgnoredKwargs(config.containerCreateKwargs(), log);
        this.env = Collections.unmodifiableMap(environment);
        this.labels = Collections.unmodifiableMap(dockerLabels);
        this.networkMode = mode;
        this.extraHosts = List.copyOf(hosts);
        this.binds = List.copyOf(volumes);
        this.baseName = containerName(config.name() != null ? config.name() : run.name());
    }

    /** The name to try first; empty lets the engine choose one. */
    String baseName() {
        return baseName;
    }

    String image() {
        return config.image();
    }

    boolean streamOutput() {
        return config.streamOutput();
    }

    boolean autoRemove() {
        return config.autoRemove();
    }

    /** Networks joined after the create call; the first one is the container's network mode. */
    List<String> laterNetworks() {
        List<String> networks = config.networks();
        return config.networkMode() != null || networks.isEmpty() ? List.of() : networks.subList(1, networks.size());
    }

    /**
     * The create call for this container under {@code name} (null: the engine picks one). The engine's own
     * AutoRemove is never set: a container that removes itself takes its exit code along before a restarted
     * worker can read it, so {@code auto_remove} is done by the launcher's release instead.
     */
    CreateContainerCmd createCommand(DockerClient docker, String name) {
        return fill(docker.createContainerCmd(config.image()), name);
    }

    /**
     * What the launch's first create call sends the engine, for {@code pworker render}: the path and query, and
     * the JSON body as docker-java writes it, less the many fields it sends as null (the engine's defaults). Built
     * by {@link #fill}, as the launch's call is, on a command that is never sent.
     */
    ObjectNode createRequest() {
        CreateContainerCmd create = fill(new CreateContainerCmdImpl(command -> {
            throw new IllegalStateException("a previewed create call is never sent");
        }, null, config.image()), baseName.isEmpty() ? null : baseName);
        ObjectMapper engineJson = DockerClientConfig.getDefaultObjectMapper();
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        out.put("request", "POST /containers/create" + (create.getName() == null ? ""
                : "?name=" + URLEncoder.encode(create.getName(), StandardCharsets.UTF_8)));
        try {
            out.set("body", withoutNulls(engineJson.readTree(engineJson.writeValueAsBytes(create))));
        } catch (IOException e) {
            throw new IllegalStateException("docker-java cannot write its own create command: " + e.getMessage(), e);
        }
        return out;
    }

    /** {@code node} without the object fields whose value is null, at every depth. */
    static JsonNode withoutNulls(JsonNode node) {
        if (node instanceof ObjectNode object) {
            object.properties().removeIf(e -> e.getValue().isNull());
            object.forEach(ContainerSpec::withoutNulls);
        } else if (node.isArray()) {
            node.forEach(ContainerSpec::withoutNulls);
        }
        return node;
    }

    /** Sets everything the create call says about the container on {@code create}: the one place that does. */
    private CreateContainerCmd fill(CreateContainerCmd create, String name) {
        HostConfig host = HostConfig.newHostConfig().withAutoRemove(false).withPrivileged(config.privileged());
        if (!binds.isEmpty()) {
            host.withBinds(binds);
        }
        if (networkMode != null) {
            host.withNetworkMode(networkMode);
        }
        if (config.memLimit() != null) {
            host.withMemory(config.memLimit());
        }
        if (config.memswapLimit() != null) {
            host.withMemorySwap(config.memswapLimit());
        }
        if (!extraHosts.isEmpty()) {
            host.withExtraHosts(extraHosts.toArray(String[]::new));
        }
        create.withEnv(env.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList())
                .withLabels(labels)
                .withCmd(config.command())
                .withHostConfig(host);
        if (name != null) {
            create.withName(name);
        }
        applyKwargs(create, host, config.containerCreateKwargs());
        return create;
    }

    /** The {@code container_create_kwargs} docker-java can express; the others are warned about once. */
    private static void applyKwargs(CreateContainerCmd create, HostConfig host, Map<String, JsonNode> kwargs) {
        kwargs.forEach((key, v) -> {
            switch (key) {
                case "user" -> create.withUser(v.asText());
                case "working_dir" -> create.withWorkingDir(v.asText());
                case "hostname" -> create.withHostName(v.asText());
                case "entrypoint" -> create.withEntrypoint(v.isArray() ? strings(v) : ShellWords.split(v.asText()));
                case "cpu_shares" -> host.withCpuShares(v.asInt());
                case "nano_cpus" -> host.withNanoCPUs(v.asLong());
                case "shm_size" -> host.withShmSize(v.asLong());
                case "init" -> host.withInit(v.asBoolean());
                default -> {
                    // extra_hosts joins the computed hosts; the rest is warned about
                }
            }
        });
    }

    private static List<String> kwargExtraHosts(Map<String, JsonNode> kwargs) {
        JsonNode v = kwargs.get("extra_hosts");
        List<String> out = new ArrayList<>();
        if (v != null && v.isObject()) {
            v.properties().forEach(h -> out.add(h.getKey() + ":" + h.getValue().asText()));
        } else if (v != null) {
            out.addAll(strings(v));
        }
        return out;
    }

    private static void warnAboutIgnoredKwargs(Map<String, JsonNode> kwargs, RunLog log) {
        for (String key : kwargs.keySet()) {
            switch (key) {
                case "user", "working_dir", "hostname", "entrypoint", "extra_hosts", "cpu_shares", "nano_cpus",
                        "shm_size", "init" -> {
                }
                case "image", "command", "env", "labels", "name", "volumes", "network_mode", "networks", "mem_limit",
                        "memswap_limit", "privileged", "auto_remove" -> log.warn("container_create_kwargs key '" + key
                        + "' is ignored: set the job variable of the same name instead");
                default -> log.warn("container_create_kwargs key '" + key + "' is not supported by pworker and is ignored");
            }
        }
    }

    private static List<String> strings(JsonNode v) {
        List<String> out = new ArrayList<>();
        v.forEach(e -> out.add(e.asText()));
        return out;
    }

    /** {@code prefect.io/flow-run-id} becomes {@code io.prefect.flow-run-id}: Docker's reverse-domain style. */
    static String dockerLabel(String key) {
        int slash = key.indexOf('/');
        if (slash < 0) {
            return key;
        }
        List<String> domain = new ArrayList<>(List.of(key.substring(0, slash).split("\\.")));
        Collections.reverse(domain);
        return String.join(".", domain) + "." + key.substring(slash + 1);
    }

    /** Docker names allow {@code [a-zA-Z0-9_.-]}; other runs of characters become one dash. */
    static String containerName(String name) {
        if (name == null) {
            return "";
        }
        String slug = name.replaceAll("[^a-zA-Z0-9_.-]+", "-").replaceAll("^[_.-]+", "");
        return slug.length() > 250 ? slug.substring(0, 250) : slug;
    }

    private static boolean pointsAtThisHost(String url) {
        try {
            String host = URI.create(url).getHost();
            return "localhost".equals(host) || "127.0.0.1".equals(host);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static boolean isLinux() {
        return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux");
    }
}

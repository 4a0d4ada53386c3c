package io.pworker.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kubernetes.client.openapi.ApiException;
import io.kubernetes.client.openapi.models.V1Job;
import io.kubernetes.client.openapi.models.V1ObjectMeta;
import io.kubernetes.client.openapi.models.V1OwnerReference;
import io.kubernetes.client.openapi.models.V1Secret;
import io.pworker.spi.LaunchException;
import io.pworker.spi.RunLog;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * prefect-kubernetes' secret options: the API key or auth string passed from a Secret instead of as plain
 * environment, a Secret the worker keeps for the API key, and the whole environment moved into a Secret owned by
 * the Job. Values never appear in messages.
 */
final class JobSecrets {

    static final String API_KEY = "PREFECT_API_KEY";
    static final String AUTH_STRING = "PREFECT_API_AUTH_STRING";

    private final KubernetesSettings settings;
    private final String workerName;
    /** API-key Secrets this worker upserted, deleted when it stops (as Prefect's teardown does). */
    private final Map<String, Created> created = new LinkedHashMap<>();

    private record Created(Cluster cluster, String namespace, String name) {
    }

    JobSecrets(KubernetesSettings settings, String workerName) {
        this.settings = settings;
        this.workerName = workerName;
    }

    /**
     * Rewrites the manifest's environment for the secret options, upserting the API-key Secret when asked.
     *
     * @return the Secret to create for {@code STORE_ENV_AS_SECRET} before the Job, or null
     */
    V1Secret apply(Cluster cluster, String namespace, ObjectNode manifest, String flowRunId, RunLog log)
            throws LaunchException {
        ObjectNode container = (ObjectNode) manifest.at("/spec/template/spec/containers/0");
        ArrayNode env = (ArrayNode) container.get("env");
        String apiKey = plainValue(env, API_KEY);
        if (settings.apiKeySecretName() != null) {
            reference(env, API_KEY, settings.apiKeySecretName(), settings.apiKeySecretKey());
        } else if (settings.createSecretForApiKey() && apiKey != null) {
            String name = "prefect-" + orElse(KubernetesNames.nameStem(workerName), "worker") + "-api-key";
            upsert(cluster, namespace, name, apiKey);
            reference(env, API_KEY, name, "value");
        }
        if (settings.authStringSecretName() != null && settings.authStringSecretKey() != null) {
            reference(env, AUTH_STRING, settings.authStringSecretName(), settings.authStringSecretKey());
        } else if (plainValue(env, AUTH_STRING) != null && !settings.storeEnvAsSecret()) {
            log.warn(AUTH_STRING + " reaches the job as plain environment; set " + KubernetesSettings.PREFIX
                    + "API_AUTH_STRING_SECRET_NAME and _KEY to pass it from a Secret.");
        }
        if (!settings.storeEnvAsSecret()) {
            return null;
        }
        Map<String, byte[]> data = new LinkedHashMap<>();
        ArrayNode kept = env.arrayNode();
        for (JsonNode e : env) {
            if (e.has("value") && !e.has("valueFrom")) {
                data.put(e.get("name").asText(), e.get("value").asText().getBytes(StandardCharsets.UTF_8));
            } else {
                kept.add(e);
            }
        }
        String stem = manifest.at("/metadata/generateName").asText("prefect-job-").replaceAll("-+$", "");
        String name = stem + "-env-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
        container.set("env", kept);
        ArrayNode envFrom = container.has("envFrom") && container.get("envFrom").isArray()
                ? (ArrayNode) container.get("envFrom") : container.putArray("envFrom");
        envFrom.addObject().putObject("secretRef").put("name", name);
        return new V1Secret().apiVersion("v1").kind("Secret").type("Opaque").data(data).metadata(new V1ObjectMeta()
                .name(name).namespace(namespace).labels(Map.of("app.kubernetes.io/managed-by", "prefect",
                        NamespaceWatch.RUN_LABEL, KubernetesNames.labelValue(flowRunId))));
    }

    /** Makes the Job the environment Secret's owner, so Kubernetes deletes the Secret with the Job. */
    static void ownBy(Cluster cluster, V1Secret secret, V1Job job) throws ApiException {
        String ns = secret.getMetadata().getNamespace();
        V1Secret current = cluster.core().readNamespacedSecret(secret.getMetadata().getName(), ns).execute();
        current.getMetadata().ownerReferences(List.of(new V1OwnerReference().apiVersion("batch/v1").kind("Job")
                .name(job.getMetadata().getName()).uid(job.getMetadata().getUid()).blockOwnerDeletion(false)));
        cluster.core().replaceNamespacedSecret(current.getMetadata().getName(), ns, current).execute();
    }

    /** Deletes the API-key Secrets this worker made; called once when the worker stops. */
    void deleteCreated() {
        List<Created> all;
        synchronized (this) {
            all = List.copyOf(created.values());
            created.clear();
        }
        for (Created c : all) {
            try {
                c.cluster().core().deleteNamespacedSecret(c.name(), c.namespace()).execute();
            } catch (ApiException | RuntimeException e) {
                org.slf4j.LoggerFactory.getLogger(JobSecrets.class).warn("Could not delete Secret {}/{}: {}",
                        c.namespace(), c.name(), e instanceof ApiException a ? KubernetesErrors.message(a) : e.toString());
            }
        }
    }

    private void upsert(Cluster cluster, String namespace, String name, String value) throws LaunchException {
        Map<String, byte[]> data = Map.of("value", value.getBytes(StandardCharsets.UTF_8));
        try {
            try {
                V1Secret current = cluster.core().readNamespacedSecret(name, namespace).execute();
                cluster.core().replaceNamespacedSecret(name, namespace, current.data(data)).execute();
            } catch (ApiException e) {
                if (e.getCode() != 404) {
                    throw e;
                }
                cluster.core().createNamespacedSecret(namespace, new V1Secret().apiVersion("v1").kind("Secret")
                        .type("Opaque").metadata(new V1ObjectMeta().name(name).namespace(namespace)).data(data)).execute();
            }
        } catch (ApiException e) {
            throw new LaunchException("Unable to store the API key in Secret " + namespace + "/" + name + ": "
                    + KubernetesErrors.message(e));
        }
        synchronized (this) {
            created.put(cluster.server() + "/" + namespace + "/" + name, new Created(cluster, namespace, name));
        }
    }

    private static String plainValue(ArrayNode env, String name) {
        for (JsonNode e : env) {
            if (name.equals(e.path("name").asText()) && e.hasNonNull("value") && !e.has("valueFrom")) {
                return e.get("value").asText();
            }
        }
        return null;
    }

    /** Replaces the variable's plain entry (or adds one) with a reference to a Secret's key. */
    private static void reference(ArrayNode env, String name, String secret, String key) {
        for (int i = env.size() - 1; i >= 0; i--) {
            if (name.equals(env.get(i).path("name").asText())) {
                env.remove(i);
            }
        }
        ObjectNode entry = env.addObject().put("name", name);
        entry.putObject("valueFrom").putObject("secretKeyRef").put("name", secret).put("key", key);
    }

    private static String orElse(String value, String fallback) {
        return value == null ? fallback : value;
    }
}

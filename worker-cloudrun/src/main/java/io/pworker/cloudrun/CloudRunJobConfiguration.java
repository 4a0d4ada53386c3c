package io.pworker.cloudrun;

import static io.pworker.spi.JobConfigurationFields.stringMap;
import static io.pworker.spi.JobConfigurationFields.strings;
import static io.pworker.spi.JobConfigurationFields.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.cloud.run.v2.Job;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.pworker.spi.LaunchException;
import io.pworker.spi.RunLog;
import io.pworker.spi.ShellWords;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A cloud-run-v2 job configuration made ready to send, as Prefect's worker prepares it (worker-spec §7.5): the
 * flow run's environment and secret references in the first container, Prefect's labels on the job and on its
 * execution template, Cloud SQL, command, args, image, timeout and VPC access. The result is a {@link Job}
 * message, so a body the API would refuse as malformed is refused here, naming the field.
 *
 * @param target   region, credentials and keep_job
 * @param name     the infrastructure name the core chose (the job name is made from it)
 * @param job      the job to create, without its name (the API takes it as {@code jobId})
 */
record CloudRunJobConfiguration(CloudRunTarget target, String name, Job job) {

    static final List<String> DEFAULT_COMMAND = List.of("prefect", "flow-run", "execute");
    static final String DEFAULT_PYTHON = "3.12";
    static final int MAX_TIMEOUT_SECONDS = 604_800;

    /** Strict: a field Cloud Run's Job does not have is an error, not silently dropped. */
    private static final JsonFormat.Parser PROTO = JsonFormat.parser();

    static CloudRunJobConfiguration from(ObjectNode c, RunLog log) throws LaunchException {
        CloudRunTarget target = CloudRunTarget.from(c);
        JsonNode raw = c.get("job_body");
        if (raw == null || !raw.isObject()) {
            throw new LaunchException("invalid job configuration 'job_body': expected the Cloud Run job as an object, got "
                    + (raw == null ? "nothing" : raw.getNodeType()));
        }
        ObjectNode body = raw.deepCopy();
        JsonNode containers = body.at("/template/template/containers");
        if (!containers.isArray() || containers.isEmpty() || !containers.get(0).isObject()) {
            throw new LaunchException("invalid job configuration 'job_body': template.template.containers must be a list "
                    + "with at least one container");
        }
        ObjectNode execution = (ObjectNode) body.get("template");
        ObjectNode task = (ObjectNode) execution.get("template");
        ObjectNode container = (ObjectNode) containers.get(0);

        Map<String, String> env = stringMap(c, "env");
        addEnvironment(c, container, env, log);
        Map<String, String> labels = stringMap(c, "labels");
        body.set("labels", labels(body.get("labels"), labels, "job_body.labels"));
        execution.set("labels", labels(execution.get("labels"), labels, "job_body.template.labels"));
        addCloudSql(strings(c, "cloudsql_instances"), task, container);
        container.set("command", words(container.get("command"), "command", DEFAULT_COMMAND));
        JsonNode args = container.get("args");
        if (args != null && args.isTextual()) {
            container.set("args", words(args, "args", List.of()));
        }
        if (!container.hasNonNull("image") || container.get("image").asText().isBlank()) {
            container.put("image", defaultImage(labels.get("prefect.io/version")));
        }
        setTimeout(c, task);
        JsonNode vpc = task.get("vpcAccess");
        if (vpc != null && (vpc.isNull() || vpc.isEmpty() || (vpc.size() == 1 && !vpc.hasNonNull("connector")))) {
            task.remove("vpcAccess");
        }
        return new CloudRunJobConfiguration(target, text(c, "name"), toJob(body));
    }

    /** The run's environment as plain values, then references to Secret Manager (which replace plain ones). */
    private static void addEnvironment(ObjectNode c, ObjectNode container, Map<String, String> env, RunLog log)
            throws LaunchException {
        Map<String, ObjectNode> secrets = new LinkedHashMap<>();
        JsonNode fromSecrets = c.get("env_from_secrets");
        if (fromSecrets != null && !fromSecrets.isNull()) {
            if (!fromSecrets.isObject()) {
                throw new LaunchException("invalid job configuration 'env_from_secrets': expected an object of variable "
                        + "names to {secret, version}");
            }
            for (Map.Entry<String, JsonNode> e : fromSecrets.properties()) {
                secrets.put(e.getKey(), secretRef(e.getValue(), "env_from_secrets." + e.getKey()));
            }
        }
        for (String[] named : new String[][] {{"prefect_api_key_secret", "PREFECT_API_KEY"},
                {"prefect_api_auth_string_secret", "PREFECT_API_AUTH_STRING"}}) {
            JsonNode ref = c.get(named[0]);
            if (ref != null && !ref.isNull()) {
                secrets.put(named[1], secretRef(ref, named[0]));
            } else if (env.containsKey(named[1]) && !secrets.containsKey(named[1])) {
                log.warn(named[1] + " reaches the Cloud Run job as a plain environment variable, visible to anyone who "
                        + "can read the job; set '" + named[0] + "' or 'env_from_secrets' to take it from Secret Manager");
            }
        }
        JsonNode existing = container.get("env");
        ArrayNode list;
        if (existing == null || existing.isNull()) {
            list = container.putArray("env");
        } else if (existing.isArray()) {
            list = (ArrayNode) existing;
        } else {
            throw new LaunchException("invalid job configuration 'job_body': the container's env must be a list of "
                    + "{name, value} entries");
        }
        env.forEach((name, value) -> {
            if (!secrets.containsKey(name)) {
                list.addObject().put("name", name).put("value", value);
            }
        });
        secrets.forEach((name, ref) -> list.addObject().put("name", name).putObject("valueSource").set("secretKeyRef", ref));
    }

    private static ObjectNode secretRef(JsonNode v, String key) throws LaunchException {
        if (!v.isObject() || !v.path("secret").isTextual() || v.get("secret").asText().isBlank()) {
            throw new LaunchException("invalid job configuration '" + key + "': expected {\"secret\": <Secret Manager "
                    + "secret name>, \"version\": <version, e.g. latest>}");
        }
        ObjectNode ref = JsonNodeFactory.instance.objectNode().put("secret", v.get("secret").asText());
        ref.put("version", v.path("version").isValueNode() && !v.path("version").isNull()
                ? v.get("version").asText() : "latest");
        return ref;
    }

    private static ObjectNode labels(JsonNode template, Map<String, String> prefect, String where) throws LaunchException {
        Map<String, String> own = new LinkedHashMap<>();
        if (template != null && !template.isNull()) {
            if (!template.isObject()) {
                throw new LaunchException("invalid job configuration '" + where + "': expected an object of labels");
            }
            template.properties().forEach(e -> own.put(e.getKey(), e.getValue().asText()));
        }
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        GcpLabels.merge(prefect, own).forEach(out::put);
        return out;
    }

    private static void addCloudSql(List<String> instances, ObjectNode task, ObjectNode container) throws LaunchException {
        if (instances.isEmpty()) {
            return;
        }
        ObjectNode volume = arrayOf(task, "volumes").addObject().put("name", "cloudsql");
        ArrayNode names = volume.putObject("cloudSqlInstance").putArray("instances");
        instances.forEach(names::add);
        arrayOf(container, "volumeMounts").addObject().put("name", "cloudsql").put("mountPath", "/cloudsql");
    }

    private static ArrayNode arrayOf(ObjectNode parent, String key) throws LaunchException {
        JsonNode v = parent.get(key);
        if (v == null || v.isNull()) {
            return parent.putArray(key);
        }
        if (!v.isArray()) {
            throw new LaunchException("invalid job configuration 'job_body': " + key + " must be a list");
        }
        return (ArrayNode) v;
    }

    /** A list stays as it is, a string is split like a shell would (without running one), nothing gets the default. */
    private static JsonNode words(JsonNode v, String key, List<String> unset) throws LaunchException {
        List<String> words;
        if (v == null || v.isNull() || (v.isTextual() && v.asText().isBlank())) {
            words = unset;
        } else if (v.isTextual()) {
            try {
                words = ShellWords.split(v.asText());
            } catch (IllegalArgumentException e) {
                throw new LaunchException("invalid job configuration '" + key + "': " + e.getMessage());
            }
        } else if (v.isArray()) {
            return v;
        } else {
            throw new LaunchException("invalid job configuration '" + key + "': expected a string or a list of strings, got " + v);
        }
        ArrayNode out = JsonNodeFactory.instance.arrayNode();
        words.forEach(out::add);
        return out;
    }

    /** Prefect runs flows in the Prefect image of its own version; ours is the version the core reports. */
    static String defaultImage(String prefectVersion) {
        String tag = prefectVersion != null && prefectVersion.matches("\\d+\\.\\d+\\.\\d+") ? prefectVersion : "3";
        return "docker.io/prefecthq/prefect:" + tag + "-python" + DEFAULT_PYTHON;
    }

    private static void setTimeout(ObjectNode c, ObjectNode task) throws LaunchException {
        JsonNode t = c.get("timeout");
        if (t == null || t.isNull()) {
            // no top-level timeout: a number in the body still needs its unit; "600s" is left as it is
            t = task.get("timeout");
            if (t == null || !t.isNumber()) {
                return;
            }
        }
        int seconds;
        if (t.isIntegralNumber() && t.canConvertToInt()) {
            seconds = t.asInt();
        } else if (t.isTextual() && t.asText().strip().matches("\\d{1,9}")) {
            seconds = Integer.parseInt(t.asText().strip());
        } else {
            throw new LaunchException("invalid job configuration 'timeout': expected whole seconds, got " + t);
        }
        if (seconds < 1 || seconds > MAX_TIMEOUT_SECONDS) {
            throw new LaunchException("invalid job configuration 'timeout': " + seconds + " is outside 1.."
                    + MAX_TIMEOUT_SECONDS + " seconds (7 days, Cloud Run's limit)");
        }
        task.put("timeout", seconds + "s");
    }

    private static Job toJob(ObjectNode body) throws LaunchException {
        Job.Builder job = Job.newBuilder();
        try {
            PROTO.merge(body.toString(), job);
        } catch (InvalidProtocolBufferException e) {
            throw new LaunchException("invalid job configuration 'job_body': not a Cloud Run job: " + e.getMessage());
        }
        return job.build();
    }
}

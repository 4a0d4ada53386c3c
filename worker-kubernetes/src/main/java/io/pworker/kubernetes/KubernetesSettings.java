package io.pworker.kubernetes;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/**
 * The worker settings prefect-kubernetes reads ({@code PREFECT_INTEGRATIONS_KUBERNETES_WORKER_*}), with the same
 * names and defaults, plus pworker's own default image. Read from the worker's environment.
 *
 * @param apiKeySecretName        an existing Secret holding the API key, referenced instead of a plain value
 * @param apiKeySecretKey         the key inside that Secret
 * @param createSecretForApiKey   put the API key into a Secret this worker creates and reference it
 * @param authStringSecretName    an existing Secret holding {@code PREFECT_API_AUTH_STRING}
 * @param authStringSecretKey     the key inside that Secret
 * @param storeEnvAsSecret        move every plain environment value into a Secret owned by the Job
 * @param createAttempts          attempts at creating the Job
 * @param retryDelay              fixed pause between attempts
 * @param retryJitterMin          least random pause added to it
 * @param retryJitterMax          most random pause added to it
 * @param tcpKeepAlive            enable TCP keep-alive on connections to the API server
 * @param defaultImage            the image of Jobs whose template sets none (null: Prefect's image of our version)
 */
record KubernetesSettings(
        String apiKeySecretName,
        String apiKeySecretKey,
        boolean createSecretForApiKey,
        String authStringSecretName,
        String authStringSecretKey,
        boolean storeEnvAsSecret,
        int createAttempts,
        Duration retryDelay,
        Duration retryJitterMin,
        Duration retryJitterMax,
        boolean tcpKeepAlive,
        String defaultImage) {

    static final String PREFIX = "PREFECT_INTEGRATIONS_KUBERNETES_WORKER_";

    static KubernetesSettings from(Map<String, String> env) {
        return new KubernetesSettings(
                text(env, PREFIX + "API_KEY_SECRET_NAME"),
                text(env, PREFIX + "API_KEY_SECRET_KEY") == null ? "value" : text(env, PREFIX + "API_KEY_SECRET_KEY"),
                flag(env, PREFIX + "CREATE_SECRET_FOR_API_KEY", false),
                text(env, PREFIX + "API_AUTH_STRING_SECRET_NAME"),
                text(env, PREFIX + "API_AUTH_STRING_SECRET_KEY"),
                flag(env, PREFIX + "STORE_ENV_AS_SECRET", false),
                (int) number(env, PREFIX + "CREATE_JOB_RETRY_ATTEMPTS", 3),
                seconds(env, PREFIX + "CREATE_JOB_RETRY_MIN_DELAY_SECONDS", 1),
                seconds(env, PREFIX + "CREATE_JOB_RETRY_MIN_DELAY_JITTER_SECONDS", 0),
                seconds(env, PREFIX + "CREATE_JOB_RETRY_MAX_DELAY_JITTER_SECONDS", 3),
                flag(env, PREFIX + "ADD_TCP_KEEPALIVE", true),
                text(env, "PWORKER_KUBERNETES_DEFAULT_IMAGE"));
    }

    private static String text(Map<String, String> env, String key) {
        String v = env.get(key);
        return v == null || v.isBlank() ? null : v.strip();
    }

    private static boolean flag(Map<String, String> env, String key, boolean unset) {
        String v = text(env, key);
        if (v == null) {
            return unset;
        }
        return switch (v.toLowerCase(Locale.ROOT)) {
            case "true", "1", "yes", "on" -> true;
            case "false", "0", "no", "off" -> false;
            default -> throw new IllegalArgumentException(key + " must be true or false, got '" + v + "'");
        };
    }

    private static double number(Map<String, String> env, String key, double unset) {
        String v = text(env, key);
        if (v == null) {
            return unset;
        }
        try {
            double d = Double.parseDouble(v);
            if (d < 0) {
                throw new NumberFormatException();
            }
            return d;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " must be a number of at least 0, got '" + v + "'");
        }
    }

    private static Duration seconds(Map<String, String> env, String key, double unset) {
        return Duration.ofMillis(Math.round(number(env, key, unset) * 1000));
    }
}

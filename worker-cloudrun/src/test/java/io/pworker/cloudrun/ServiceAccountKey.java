package io.pworker.cloudrun;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;

/** A throwaway service account key whose token endpoint is the fake's, made fresh for each test class. */
record ServiceAccountKey(KeyPair keys, String pem) {

    static final String EMAIL = "pworker-test@demo-project.iam.gserviceaccount.com";
    static final String PROJECT = "demo-project";

    static ServiceAccountKey generate() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(2048);
            KeyPair keys = g.generateKeyPair();
            String pem = "-----BEGIN PRIVATE KEY-----\n"
                    + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(keys.getPrivate().getEncoded())
                    + "\n-----END PRIVATE KEY-----\n";
            return new ServiceAccountKey(keys, pem);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The key file's JSON, as a gcp-credentials block's service_account_info holds it. */
    ObjectNode info(String tokenUri) {
        ObjectNode info = new ObjectMapper().createObjectNode();
        info.put("type", "service_account");
        info.put("project_id", PROJECT);
        info.put("private_key_id", "0123456789abcdef");
        info.put("private_key", pem);
        info.put("client_email", EMAIL);
        info.put("client_id", "1234567890");
        info.put("token_uri", tokenUri);
        return info;
    }

    /** The part of the PEM that must never be seen in a log or a message. */
    String secretPart() {
        return pem.split("\n")[5];
    }

    @Override
    public String toString() {
        return "ServiceAccountKey[" + EMAIL + "]";
    }
}

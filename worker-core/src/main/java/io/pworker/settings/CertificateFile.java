package io.pworker.settings;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;

/**
 * Checks a CA bundle named by a setting when the settings are loaded. The HTTP client reads it much later, where
 * a missing or garbled file could only surface as an exception from deep inside the TLS set-up.
 */
final class CertificateFile {

    private CertificateFile() {
    }

    static void check(String key, Path file) throws SettingsException {
        if (!Files.exists(file)) {
            throw new SettingsException(key + " names " + file + ", which does not exist");
        }
        if (Files.isDirectory(file)) {
            throw new SettingsException(key + " names " + file + ", which is a directory, not a PEM file");
        }
        int certificates;
        try (InputStream in = Files.newInputStream(file)) {
            certificates = CertificateFactory.getInstance("X.509").generateCertificates(in).size();
        } catch (AccessDeniedException e) {
            throw new SettingsException(key + " names " + file + ", which this user cannot read");
        } catch (IOException e) {
            throw new SettingsException(key + " names " + file + ", which cannot be read: " + e.getMessage());
        } catch (CertificateException e) {
            throw new SettingsException(key + " names " + file + ", which holds no readable PEM certificate ("
                    + e.getMessage() + ")");
        }
        if (certificates == 0) {
            throw new SettingsException(key + " names " + file + ", which holds no PEM certificate");
        }
    }
}

package io.pworker.template;

/** A job template cannot be rendered for a run; the message names the key or placeholder at fault. */
public final class TemplateException extends Exception {

    public TemplateException(String message) {
        super(message);
    }
}

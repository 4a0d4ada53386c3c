package io.pworker.template;
// STUB until the renderer lands
public final class TemplateException extends Exception { public TemplateException(String m) { super(m); } }

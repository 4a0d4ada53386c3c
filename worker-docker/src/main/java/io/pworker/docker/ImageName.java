package io.pworker.docker;

/** An image reference split the way the engine's pull API wants it: repository, then tag or digest. */
record ImageName(String repository, String tag, String digest) {

    static ImageName parse(String image) {
        int at = image.indexOf('@');
        if (at >= 0) {
            return new ImageName(image.substring(0, at), null, image.substring(at + 1));
        }
        int slash = image.lastIndexOf('/');
        int colon = image.lastIndexOf(':');
        if (colon > slash) {
            return new ImageName(image.substring(0, colon), image.substring(colon + 1), null);
        }
        return new ImageName(image, null, null);
    }

    /** The tag or digest to pull; Docker's own default is {@code latest}. */
    String reference() {
        return digest != null ? digest : tag != null ? tag : "latest";
    }
}

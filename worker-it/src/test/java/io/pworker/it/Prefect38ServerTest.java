package io.pworker.it;

/** pworker against a real Prefect 3.8.3 server. */
class Prefect38ServerTest extends RealPrefectServerContract {

    @Override
    String version() {
        return PrefectRef.V38;
    }

    @Override
    boolean acceptsSubmitting() {
        return true;
    }
}

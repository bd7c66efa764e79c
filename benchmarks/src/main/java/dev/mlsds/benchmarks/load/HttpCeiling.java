package dev.mlsds.benchmarks.load;

import io.javalin.Javalin;

/**
 * The HTTP ceiling of {@code benchmarks/run}: a bare Javalin endpoint configured as the server is (Jetty on
 * virtual threads) that reads the request body and answers a fixed JSON of sendMessage's size, doing
 * nothing else. Listens on 127.0.0.1 only.
 *
 * <pre>java -cp benchmarks.jar dev.mlsds.benchmarks.load.HttpCeiling PORT</pre>
 */
public final class HttpCeiling {
  private static final String OUTPUT =
      "{\"messageId\":\"00000000000000000000000000000000\",\"seq\":1,\"epoch\":0,\"receivedAt\":\"2026-12-01T00:00:00.000Z\"}";

  private HttpCeiling() {}

  public static void main(String[] args) {
    int port = Integer.parseInt(args[0]);
    Javalin app = Javalin.create(cfg -> {
      cfg.startup.showJavalinBanner = false;
      cfg.concurrency.useVirtualThreads = true;
      cfg.jetty.host = "127.0.0.1";
      cfg.jetty.port = port;
      cfg.routes.get("/health/ready", ctx -> ctx.result("{\"status\":\"ready\"}"));
      cfg.routes.post("/xrpc/{nsid}", ctx -> {
        ctx.bodyAsBytes();
        ctx.status(200).contentType("application/json").result(OUTPUT);
      });
    });
    app.start();
  }
}

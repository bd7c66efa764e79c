package dev.mlsds.server;

import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mlsds healthcheck}: asks the local server's {@code /health/ready} and exits 0 when it answers 200,
 * else 1 — a container health check that needs nothing but the image's own Java (no curl in the image).
 */
@Command(name = "healthcheck", mixinStandardHelpOptions = true,
    description = "Exit 0 if the server on this host answers GET /health/ready with 200, else 1 (container health checks).")
final class HealthcheckCommand implements Callable<Integer> {
  @Mixin Main.Settings settings;
  @Spec CommandSpec spec;

  @Option(names = "--path", defaultValue = "/health/ready", description = "path to ask (default ${DEFAULT-VALUE}; /health/live for liveness)")
  String path;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    String host = settings.bind == null || settings.bind.isBlank() || settings.bind.equals("0.0.0.0") || settings.bind.equals("::")
        ? "127.0.0.1" : settings.bind;
    URI uri = URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + settings.port + path);
    try {
      HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
      HttpResponse<Void> r = client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).GET().build(),
          HttpResponse.BodyHandlers.discarding());
      out.println(uri + " " + r.statusCode());
      return r.statusCode() == 200 ? 0 : 1;
    } catch (java.io.IOException e) {
      out.println(uri + " unreachable: " + e.getMessage());
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 1;
    }
  }
}

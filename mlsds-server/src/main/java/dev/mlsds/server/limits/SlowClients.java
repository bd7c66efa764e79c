package dev.mlsds.server.limits;

import io.javalin.config.JavalinConfig;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's HTTP connector with the {@link HttpSettings} bounds: idle timeout, header-size limit, a cap on open
 * connections, and the <b>request-head deadline</b>: Jetty's idle timeout restarts with every byte, so a client
 * sending its headers one byte at a time (slowloris) or a keep-alive connection left open would hold a connection
 * for ever. Here every HTTP/1 connection that is not handling a request is timed from when it opened or its last
 * response finished; past {@code headerTimeout} without a complete request head it is closed. Connections handling
 * a request (an upload, an event stream) are not timed by it; upgraded ones (WebSocket) leave it.
 */
public final class SlowClients implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SlowClients.class);

  private final HttpSettings settings;
  private final Map<Connection, Long> waitingSince = new ConcurrentHashMap<>();
  private final ScheduledExecutorService sweeper;

  private SlowClients(HttpSettings settings) {
    this.settings = settings;
    this.sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "mlsds-slow-clients");
      t.setDaemon(true);
      return t;
    });
    long period = Math.max(50, settings.headerTimeout().toMillis() / 4);
    sweeper.scheduleWithFixedDelay(this::sweep, period, period, TimeUnit.MILLISECONDS);
  }

  /** Installs the connector, the connection cap and the head deadline; close the result when the node stops. */
  public static SlowClients install(JavalinConfig cfg, HttpSettings settings, String host, int port) {
    SlowClients guard = new SlowClients(settings);
    cfg.jetty.modifyServer(server -> server.setHandler(new Handler.Wrapper() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        Connection c = request.getConnectionMetaData().getConnection();
        guard.busy(c);
        return super.handle(request, response, new Callback() {
          @Override
          public void succeeded() {
            guard.waiting(c);
            callback.succeeded();
          }

          @Override
          public void failed(Throwable x) {
            guard.waiting(c);
            callback.failed(x);
          }

          @Override
          public InvocationType getInvocationType() {
            return callback.getInvocationType();
          }
        });
      }
    }));
    cfg.jetty.addConnector((server, http) -> {
      http.setRequestHeaderSize(settings.maxHeaderBytes());
      ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
      connector.setHost(host);
      connector.setPort(port);
      connector.setIdleTimeout(settings.idleTimeout().toMillis());
      connector.addEventListener(new Connection.Listener() {
        @Override
        public void onOpened(Connection c) {
          if (c instanceof HttpConnection) {
            guard.waiting(c);
          }
        }

        @Override
        public void onClosed(Connection c) {
          guard.waitingSince.remove(c);
        }
      });
      server.addBean(new NetworkConnectionLimit(settings.maxConnections(), connector));
      return connector;
    });
    return guard;
  }

  private void busy(Connection c) {
    waitingSince.remove(c);
  }

  private void waiting(Connection c) {
    if (c instanceof HttpConnection && c.getEndPoint().isOpen()) {
      waitingSince.put(c, System.nanoTime());
    }
  }

  private void sweep() {
    try {
      long limit = settings.headerTimeout().toNanos();
      long now = System.nanoTime();
      waitingSince.forEach((c, since) -> {
        if (!c.getEndPoint().isOpen()) {
          waitingSince.remove(c, since);
        } else if (now - since > limit && waitingSince.remove(c, since)) {
          c.getEndPoint().close();
        }
      });
    } catch (RuntimeException e) {
      log.warn("slow-client sweep failed", e);
    }
  }

  /** Connections currently timed by the head deadline (for tests and metrics). */
  public int waitingConnections() {
    return waitingSince.size();
  }

  @Override
  public void close() {
    sweeper.shutdownNow();
  }
}

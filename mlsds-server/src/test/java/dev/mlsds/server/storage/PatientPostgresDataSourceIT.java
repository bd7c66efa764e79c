package dev.mlsds.server.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The pool's PostgreSQL connections wait out a database that refuses them for a short while (down,
 * restarting), and fail at once for what will not pass. "The database" here is a port on loopback that
 * nothing listens on until the test puts a forwarder to the real server (127.0.0.1:5432) on it.
 */
class PatientPostgresDataSourceIT {

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  static Properties props() {
    Properties p = new Properties();
    p.setProperty("connectTimeout", "5");
    return p;
  }

  @Test
  void aConnectionRefusedWhileTheDatabaseIsAwayIsRetriedUntilItReturns() throws Exception {
    int port = freePort();
    var ds = new PatientPostgresDataSource("jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=postgres", props());
    long start = System.nanoTime();
    CompletableFuture<Connection> opened = CompletableFuture.supplyAsync(() -> {
      try {
        return ds.getConnection();
      } catch (SQLException e) {
        throw new RuntimeException(e);
      }
    });
    Thread.sleep(600); // the first attempts are refused: nothing listens yet
    assertThat(opened).isNotDone();
    try (Forwarder f = new Forwarder(port, 5432); Connection c = opened.get(10, TimeUnit.SECONDS);
        Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 1")) {
      assertThat(rs.next()).isTrue();
      assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(600));
    }
  }

  @Test
  void aDatabaseThatStaysAwayFailsAfterThePatienceWithItsConnectionError() throws Exception {
    int port = freePort();
    var ds = new PatientPostgresDataSource("jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=postgres", props());
    assertThatThrownBy(ds::getConnection).isInstanceOfSatisfying(SQLException.class,
        e -> assertThat(PatientPostgresDataSource.passing(e)).as("SQLSTATE %s", e.getSQLState()).isTrue());
  }

  @Test
  void aMissingDatabaseIsNotRetried() {
    var ds = new PatientPostgresDataSource("jdbc:postgresql://127.0.0.1:5432/mlsds_no_such_database?user=postgres", props());
    assertThatThrownBy(ds::getConnection).isInstanceOfSatisfying(SQLException.class, e -> {
      assertThat(e.getSQLState()).isEqualTo("3D000");
      assertThat(PatientPostgresDataSource.passing(e)).isFalse();
    });
  }

  /** A TCP forwarder from a loopback port to another, for as long as it is open. */
  static final class Forwarder implements AutoCloseable {
    private final ServerSocket server;

    Forwarder(int from, int to) throws IOException {
      server = new ServerSocket(from, 50, InetAddress.getLoopbackAddress());
      Thread.ofVirtual().start(() -> {
        while (!server.isClosed()) {
          try {
            Socket in = server.accept();
            Socket out = new Socket(InetAddress.getLoopbackAddress(), to);
            pipe(in, out);
            pipe(out, in);
          } catch (IOException e) {
            return; // closed
          }
        }
      });
    }

    private static void pipe(Socket from, Socket to) {
      Thread.ofVirtual().start(() -> {
        try (InputStream i = from.getInputStream(); OutputStream o = to.getOutputStream()) {
          i.transferTo(o);
        } catch (IOException e) {
          // one side closed
        } finally {
          try {
            to.close();
            from.close();
          } catch (IOException e) {
            // closing
          }
        }
      });
    }

    @Override
    public void close() throws IOException {
      server.close();
    }
  }
}

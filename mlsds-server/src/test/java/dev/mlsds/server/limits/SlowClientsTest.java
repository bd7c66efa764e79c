package dev.mlsds.server.limits;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mlsds.codec.ContentType;
import dev.mlsds.codec.testing.TestMessages;
import dev.mlsds.server.Server;
import dev.mlsds.server.Wiring;
import dev.mlsds.server.testing.TestDatabases;
import dev.mlsds.server.testing.TestServers;
import dev.mlsds.server.testing.TestUser;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Slow and hostile clients (docs/RELIABILITY.md): slowloris heads and bodies, many idle connections, a full
 * connection cap, event-stream readers that never read — the node keeps serving another client, and the hostile
 * connections are closed by the bounds of {@link HttpSettings}. No timed assertions: the waits are bounded loops.
 */
class SlowClientsTest {
  Server server;
  final List<Socket> sockets = new ArrayList<>();
  final AtomicBoolean stop = new AtomicBoolean();

  Server start(HttpSettings http) {
    server = Wiring.build(TestServers.config(TestDatabases.sqlite()), Clock.systemUTC()).http(http).start();
    return server;
  }

  @AfterEach
  void close() throws IOException {
    stop.set(true);
    for (Socket s : sockets) {
      s.close();
    }
    if (server != null) {
      server.stop();
    }
  }

  Socket connect() throws IOException {
    Socket s = new Socket();
    s.setReceiveBufferSize(1024);
    s.connect(new InetSocketAddress("127.0.0.1", server.port()), 10_000);
    s.setSoTimeout(200);
    sockets.add(s);
    return s;
  }

  /** True once the server closed the socket (end of stream or reset), reading and dropping what it sent. */
  static boolean closedByServer(Socket s) {
    try {
      InputStream in = s.getInputStream();
      byte[] buf = new byte[8192];
      while (true) {
        int n = in.read(buf);
        if (n < 0) {
          return true;
        }
      }
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true;
    }
  }

  /** Waits (bounded: up to ~60 s) until every socket has been closed by the server. */
  static void awaitAllClosed(List<Socket> hostile) throws InterruptedException {
    List<Socket> open = new ArrayList<>(hostile);
    for (int i = 0; i < 300 && !open.isEmpty(); i++) {
      open.removeIf(SlowClientsTest::closedByServer);
      if (!open.isEmpty()) {
        Thread.sleep(200);
      }
    }
    assertThat(open).as("connections the server left open").isEmpty();
  }

  /** Another client's ordinary calls all succeed. */
  static void othersAreServed(TestUser other, int calls) {
    for (int i = 0; i < calls; i++) {
      var r = other.get("getConvos");
      assertThat(r.status()).as(r.body()).isEqualTo(200);
    }
  }

  @Test
  void slowlorisHeadsAreCutWhileOthersAreServed() throws Exception {
    start(HttpSettings.defaults().withHeaderTimeout(Duration.ofSeconds(1)));
    List<Socket> hostile = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      Socket s = connect();
      s.getOutputStream().write("GET /xrpc/blue.catbird.mls.getConvos HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
      hostile.add(s);
    }
    // One header line every 100 ms per connection: each byte keeps Jetty's idle timeout from firing.
    Thread trickler = Thread.ofVirtual().start(() -> {
      for (int k = 0; k < 600 && !stop.get(); k++) {
        for (Socket s : hostile) {
          try {
            OutputStream out = s.getOutputStream();
            out.write(("X-" + k + ": v\r\n").getBytes(StandardCharsets.US_ASCII));
          } catch (IOException closed) {
            // cut by the server: what the test waits for
          }
        }
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          return;
        }
      }
    });
    othersAreServed(TestUser.on(server), 20);
    awaitAllClosed(hostile);
    stop.set(true);
    trickler.join();
    othersAreServed(TestUser.on(server), 5);
  }

  @Test
  void idleConnectionsAtTheCapWaitOthersOutAndAreClosed() throws Exception {
    start(HttpSettings.defaults().withHeaderTimeout(Duration.ofSeconds(1)).withMaxConnections(50));
    List<Socket> idle = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      idle.add(connect()); // connected, never sends a byte
    }
    // At the cap, a new client waits in the backlog until the idle ones are closed, then is served.
    othersAreServed(TestUser.on(server), 10);
    awaitAllClosed(idle);
    // Many more idle connections than the cap: the node goes on serving.
    List<Socket> more = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      Socket s = new Socket();
      s.connect(new InetSocketAddress("127.0.0.1", server.port()), 10_000);
      s.setSoTimeout(200);
      sockets.add(s);
      more.add(s);
    }
    othersAreServed(TestUser.on(server), 10);
    awaitAllClosed(more);
  }

  @Test
  void aSlowlorisBodyIsRefusedWhileOthersAreServed() throws Exception {
    start(HttpSettings.defaults().withMinBodyBytesPerSecond(1024));
    TestUser slow = TestUser.on(server);
    String head = "POST /xrpc/blue.catbird.mls.getSubscriptionTicket HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + slow.token("getSubscriptionTicket") + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
    Socket s = connect();
    s.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
    Thread trickler = Thread.ofVirtual().start(() -> {
      for (int k = 0; k < 400 && !stop.get(); k++) {
        try {
          s.getOutputStream().write(' ');
          Thread.sleep(100);
        } catch (IOException | InterruptedException e) {
          return;
        }
      }
    });
    othersAreServed(TestUser.on(server), 10);
    // The node answers 400 once the grace is over (the body is far below 1 KiB/s), and the connection ends.
    StringBuilder answer = new StringBuilder();
    for (int i = 0; i < 300; i++) {
      try {
        byte[] buf = new byte[4096];
        int n = s.getInputStream().read(buf);
        if (n < 0) {
          break;
        }
        answer.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        if (answer.indexOf("}") > 0) {
          break;
        }
      } catch (SocketTimeoutException e) {
        // not yet
      } catch (IOException e) {
        break;
      }
    }
    stop.set(true);
    trickler.join();
    assertThat(answer.toString()).startsWith("HTTP/1.1 400").contains("too slowly");
    othersAreServed(TestUser.on(server), 5);
  }

  @Test
  void eventStreamReadersThatNeverReadDoNotStopTheNode() throws Exception {
    start(HttpSettings.defaults());
    TestUser alice = TestUser.on(server);
    byte[] g = new byte[16];
    new SecureRandom().nextBytes(g);
    String convo = HexFormat.of().formatHex(g);
    assertThat(alice.post("createConvo", Map.of("groupId", convo, "cipherSuite",
        "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519")).status()).isEqualTo(200);
    List<Socket> readers = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      Socket s = connect();
      s.getOutputStream().write(("GET /xrpc/blue.catbird.mls.streamConvoEvents?convoId=" + convo + " HTTP/1.1\r\n"
          + "Host: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer "
          + alice.token("streamConvoEvents") + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      readers.add(s); // never read from again
    }
    byte[] message = TestMessages.privateMessage(g, 0, ContentType.APPLICATION);
    TestUser other = TestUser.on(server);
    for (int i = 0; i < 300; i++) {
      var r = alice.post("sendMessage", Map.of("convoId", convo, "ciphertext", TestUser.bytes(message)));
      assertThat(r.status()).as(r.body()).isEqualTo(200);
      if (i % 50 == 0) {
        othersAreServed(other, 2);
      }
    }
    var page = alice.get("getMessages", "convoId", convo, "limit", "100");
    assertThat(page.status()).isEqualTo(200);
    othersAreServed(other, 5);
  }
}

// Starts DynamoDB Local bound to 127.0.0.1 only. The jar has no bind-address option and its
// Jetty connector listens on all interfaces, so this builds the server with ServerRunner's own
// factory (same options, same handlers), points the connector at loopback, then starts it.
// Run in source-file mode (no build step):
//   java -Djava.library.path=<lib>/DynamoDBLocal_lib -cp "<lib>/DynamoDBLocal.jar:<lib>/DynamoDBLocal_lib/*" \
//     LoopbackLauncher.java [DynamoDB Local options...]
// With -Dloopback.exitOnStdinEof=true the JVM exits when its stdin closes, so it dies with a
// parent that was killed too hard to clean up (SIGKILL, OOM).
// Checked against DynamoDB Local 3.3.0 (Jetty 12).

import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class LoopbackLauncher {
    private static final String HOST = "127.0.0.1";

    public static void main(String[] args) {
        if (Boolean.getBoolean("loopback.exitOnStdinEof")) {
            watchStdin();
        }

        DynamoDBProxyServer proxy;
        try {
            proxy = ServerRunner.createServerFromCommandLineArgs(args);
        } catch (Exception e) {
            fail("invalid DynamoDB Local arguments: " + e);
            return;
        }

        Server server = jettyServer(proxy);
        Connector[] connectors = server.getConnectors();
        if (connectors.length == 0) {
            fail("DynamoDB Local has no Jetty connector; refusing to start");
        }
        for (Connector connector : connectors) {
            // Any other connector type might listen somewhere we cannot control.
            if (!(connector instanceof ServerConnector)) {
                fail("unexpected Jetty connector " + connector.getClass().getName() + "; refusing to start");
            }
            ((ServerConnector) connector).setHost(HOST);
        }

        // Stop cleanly on SIGTERM so the SQLite files are closed.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                proxy.stop();
            } catch (Exception e) {
                System.err.println("LoopbackLauncher: error while stopping: " + e);
            }
        }, "loopback-launcher-shutdown"));

        try {
            // safeStart() rethrows bind errors (start() only prints them and keeps the JVM alive)
            // and skips the start-up telemetry event.
            proxy.safeStart();
        } catch (Exception e) {
            fail("could not start: " + e);
        }

        for (Connector connector : connectors) {
            ServerConnector sc = (ServerConnector) connector;
            if (!HOST.equals(sc.getHost()) || sc.getLocalPort() <= 0) {
                fail("connector not bound to " + HOST + " (host=" + sc.getHost() + ", port=" + sc.getLocalPort() + ")");
            }
            System.out.println("LoopbackLauncher: listening on " + HOST + ":" + sc.getLocalPort());
        }
    }

    private static void watchStdin() {
        Thread watcher = new Thread(() -> {
            try {
                byte[] buffer = new byte[256];
                while (System.in.read(buffer) != -1) {
                    // Input is ignored; only end-of-file matters.
                }
            } catch (Exception e) {
                // A broken pipe means the parent is gone, same as EOF.
            }
            System.exit(0);
        }, "loopback-launcher-stdin");
        watcher.setDaemon(true);
        watcher.start();
    }

    private static Server jettyServer(DynamoDBProxyServer proxy) {
        try {
            Field field = DynamoDBProxyServer.class.getDeclaredField("server");
            field.setAccessible(true);
            return (Server) field.get(proxy);
        } catch (ReflectiveOperationException e) {
            fail("cannot reach the Jetty server inside DynamoDBProxyServer (jar version changed?): " + e);
            return null;
        }
    }

    private static void fail(String message) {
        System.err.println("LoopbackLauncher: " + message);
        System.out.flush();
        System.err.flush();
        // halt, not exit: shutdown hooks would try to stop a server that never started.
        Runtime.getRuntime().halt(1);
    }
}

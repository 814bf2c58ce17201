import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;

import org.apache.kafka.connect.runtime.distributed.ConnectProtocol;
import org.apache.kafka.connect.runtime.distributed.ExtendedAssignment;
import org.apache.kafka.connect.runtime.distributed.ExtendedWorkerState;
import org.apache.kafka.connect.runtime.distributed.IncrementalCooperativeConnectProtocol;
import org.apache.kafka.connect.util.ConnectorTaskId;

/**
 * Prints Kafka Connect's group protocol messages (subscriptions and
 * assignments, protocol versions 0 to 2) as JSON lines: a name and the hex
 * of the bytes Kafka Connect's own classes write. Ferry's host/kafka tests
 * decode them and encode the same values.
 */
public class Vectors {
    static void print(String name, ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        System.out.println("{\"name\":\"" + name + "\",\"hex\":\"" + HexFormat.of().formatHex(out) + "\"}");
    }

    static ConnectorTaskId t(String c, int id) { return new ConnectorTaskId(c, id); }

    public static void main(String[] args) {
        print("subscription-v0", ConnectProtocol.serializeMetadata(new ConnectProtocol.WorkerState("http://w1:8083/", 42)));
        print("assignment-v0", ConnectProtocol.serializeAssignment(new ConnectProtocol.Assignment(
            (short) 0, "leader-1", "http://w1:8083/", 42, List.of("src"), List.of(t("src", 0), t("src", 1)))));
        print("assignment-v0-mismatch", ConnectProtocol.serializeAssignment(new ConnectProtocol.Assignment(
            (short) 1, "leader-1", "http://w1:8083/", 7, List.of(), List.of())));
        for (short v = 1; v <= 2; v++) {
            boolean sessioned = v == 2;
            ExtendedAssignment a = new ExtendedAssignment(v, (short) 0, "leader-1", "http://w1:8083/", 42,
                List.of("src"), List.of(t("src", 0), t("sink", 2)), List.of("old"), List.of(t("old", 0)), 5000);
            print("assignment-v" + v, IncrementalCooperativeConnectProtocol.serializeAssignment(a, sessioned));
            ExtendedAssignment noRevoked = new ExtendedAssignment(v, (short) 0, "leader-1", "http://w1:8083/", 42,
                List.of(), List.of(t("sink", 1)), List.of(), List.of(), 0);
            print("assignment-v" + v + "-no-revoked", IncrementalCooperativeConnectProtocol.serializeAssignment(noRevoked, sessioned));
            print("subscription-v" + v, IncrementalCooperativeConnectProtocol.serializeMetadata(
                new ExtendedWorkerState("http://w2:8083/", 43, a), sessioned));
            print("subscription-v" + v + "-no-allocation", IncrementalCooperativeConnectProtocol.serializeMetadata(
                new ExtendedWorkerState("http://w2:8083/", 43, null), sessioned));
        }
    }
}

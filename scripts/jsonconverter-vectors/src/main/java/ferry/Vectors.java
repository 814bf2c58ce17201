package ferry;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.json.JsonConverter;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Reads envelope inputs (one JSON document per line), parses each with
 * JsonConverter (schemas.enable=true), writes it back with schemas enabled and
 * disabled, and prints the bytes (base64) as JSON test vectors.
 */
public final class Vectors {
    public static void main(String[] args) throws Exception {
        List<String> inputs = Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8);
        JsonConverter withSchemas = converter(true);
        JsonConverter without = converter(false);
        ObjectMapper mapper = new ObjectMapper();
        ArrayNode out = mapper.createArrayNode();
        for (String in : inputs) {
            if (in.isBlank()) continue;
            ObjectNode v = out.addObject();
            v.put("input", in);
            try {
                SchemaAndValue sv = withSchemas.toConnectData("t", in.getBytes(StandardCharsets.UTF_8));
                v.put("schemas", b64(withSchemas.fromConnectData("t", sv.schema(), sv.value())));
                v.put("plain", b64(without.fromConnectData("t", sv.schema(), sv.value())));
            } catch (Exception e) {
                v.put("error", e.getClass().getSimpleName());
            }
        }
        System.out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(out));
    }

    private static String b64(byte[] b) {
        return b == null ? null : Base64.getEncoder().encodeToString(b);
    }

    private static JsonConverter converter(boolean schemas) {
        JsonConverter c = new JsonConverter();
        c.configure(Map.of("schemas.enable", String.valueOf(schemas)), false);
        return c;
    }
}

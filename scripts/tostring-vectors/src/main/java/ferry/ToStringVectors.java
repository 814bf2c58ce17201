package ferry;

import java.lang.reflect.Field;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TimeZone;

import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.json.JsonConverter;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Writes what Kafka Connect's FileStreamSinkTask prints for record values:
 * it calls PrintStream.println(Object), i.e. String.valueOf(value) of the
 * value JsonConverter.toConnectData returns.
 *
 * <p>args: inputs file, vectors JSON out, primitives text out.
 *
 * <p>Inputs: one JsonConverter input per line; a line "[schemas]" or
 * "[schemaless]" sets schemas.enable for the lines after it; "#" starts a
 * comment line.
 *
 * <p>Ferry's one deliberate difference is byte[]: Java prints "[B@" and an
 * identity hash, which differs from run to run. Ferry writes a top-level
 * BYTES value's raw bytes (the expected line is those bytes as UTF-8) and
 * nested bytes as base64 (what Kafka Connect's Values.convertToString writes
 * for bytes); the expected line here is String.valueOf with byte[] replaced
 * by such a base64 object, and the vector says so in "note".
 *
 * <p>The primitives file has one check per line, tab separated, from the
 * JDK: double and float toString (by bits), java.util.Date.toString,
 * BigDecimal.toString, String.hashCode, and HashMap iteration order. It is a
 * few hundred lines on purpose: enough to check each rule Ferry follows, not
 * a sweep (the values are seeded, so reruns write the same file).
 */
public final class ToStringVectors {
    public static void main(String[] args) throws Exception {
        if (Runtime.version().feature() < 21) {
            // Double.toString printed other digits before JDK 19: see run.
            throw new IllegalStateException("run on JDK 21 or later, not " + Runtime.version());
        }
        if (!TimeZone.getDefault().getID().equals("UTC")) {
            throw new IllegalStateException("run with TZ=UTC, not " + TimeZone.getDefault().getID());
        }
        ObjectMapper mapper = new ObjectMapper();
        ArrayNode out = mapper.createArrayNode();
        Boolean schemas = null;
        JsonConverter withSchemas = converter(true);
        JsonConverter without = converter(false);
        for (String in : Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8)) {
            if (in.isBlank() || in.startsWith("#")) continue;
            if (in.equals("[schemas]") || in.equals("[schemaless]")) {
                schemas = in.equals("[schemas]");
                continue;
            }
            if (schemas == null) throw new IllegalStateException("input before [schemas] or [schemaless]: " + in);
            JsonConverter c = schemas ? withSchemas : without;
            SchemaAndValue sv = c.toConnectData("t", in.getBytes(StandardCharsets.UTF_8));
            Object value = sv.value();
            ObjectNode v = out.addObject();
            v.put("schemas", schemas);
            v.put("input", in);
            boolean[] bytes = {false};
            String expected;
            if (value instanceof byte[] b) {
                expected = new String(b, StandardCharsets.UTF_8);
                if (!Arrays.equals(expected.getBytes(StandardCharsets.UTF_8), b)) {
                    throw new IllegalStateException("top-level bytes must be UTF-8 text: " + in);
                }
                bytes[0] = true;
            } else {
                expected = String.valueOf(patchBytes(value, bytes));
            }
            if (expected.indexOf('\n') >= 0 || expected.indexOf('\r') >= 0) {
                throw new IllegalStateException("expected line has a line break: " + in);
            }
            v.put("expected", expected);
            if (bytes[0]) {
                v.put("note", "Kafka Connect prints byte[] as [B@<identity hash>; Ferry writes top-level bytes raw and nested bytes as base64");
            }
        }
        Files.writeString(Path.of(args[1]), mapper.writerWithDefaultPrettyPrinter().writeValueAsString(out) + "\n");
        Files.writeString(Path.of(args[2]), primitives(mapper));
    }

    private static JsonConverter converter(boolean schemas) {
        JsonConverter c = new JsonConverter();
        c.configure(Map.of("schemas.enable", String.valueOf(schemas)), false);
        return c;
    }

    /** Base64Bytes prints bytes as Ferry writes them inside a value. */
    private record Base64Bytes(byte[] b) {
        @Override
        public String toString() {
            return Base64.getEncoder().encodeToString(b);
        }
    }

    /**
     * Replaces byte[] inside v by Base64Bytes, in place (Struct's values by
     * reflection: Struct.put would reject the wrapper). Map keys are left
     * alone, and must not be byte[] or Struct: their hash codes are identity
     * based, so Java's own order would differ from run to run.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object patchBytes(Object v, boolean[] found) throws Exception {
        if (v instanceof byte[] b) {
            found[0] = true;
            return new Base64Bytes(b);
        }
        if (v instanceof List l) {
            for (int i = 0; i < l.size(); i++) l.set(i, patchBytes(l.get(i), found));
        } else if (v instanceof Map<?, ?> m) {
            for (Map.Entry e : m.entrySet()) {
                if (e.getKey() instanceof byte[] || e.getKey() instanceof Struct) {
                    throw new IllegalStateException("map key with an identity hash code: " + e.getKey());
                }
                e.setValue(patchBytes(e.getValue(), found));
            }
        } else if (v instanceof Struct s) {
            Field f = Struct.class.getDeclaredField("values");
            f.setAccessible(true);
            Object[] values = (Object[]) f.get(s);
            for (int i = 0; i < values.length; i++) values[i] = patchBytes(values[i], found);
        }
        return v;
    }

    private static String primitives(ObjectMapper mapper) throws Exception {
        StringBuilder sb = new StringBuilder();
        sb.append("# Generated by scripts/tostring-vectors/run from the JDK (").append(System.getProperty("java.version"))
            .append(", TZ=UTC): kind, input, Java's text; tab separated.\n");
        Random r = new Random(20231114L);

        // Double.toString and Float.toString, by bits: the layout's edges
        // (plain from 1E-3 up to below 1E7), the shortest-digits cases where
        // JDK 19+ prints two digits rather than one (4.9E-324, 9.9E-324),
        // and a sample of random values for the digits.
        List<Double> ds = new ArrayList<>(List.of(0.0, -0.0, 1.0, -1.0, 100.0, 0.1, 0.001, 0.00099, 9.999999999999999E-4,
            1.0E-4, 1.0E-5, 1.0E7, 9999999.0, 9999999.999, 1.0E21, 1.0E22, 1.0E23, 2.0E23, 123456.789, 8.2763E20, 1.0E16,
            Double.MAX_VALUE, Double.MIN_VALUE, Double.MIN_NORMAL, Double.NaN, Double.POSITIVE_INFINITY,
            Double.NEGATIVE_INFINITY, 9007199254740993.0, 2.2250738585072014E-308, 4.35, 0.3, 2.0 / 3, -2.5E-10, 1.5E300));
        for (long i = 1; i <= 12; i++) ds.add(Double.longBitsToDouble(i));
        for (int e = -8; e <= 8; e += 2) ds.add(Double.parseDouble("1E" + e));
        for (int i = 0; i < 40; i++) ds.add(Double.longBitsToDouble(r.nextLong()));
        for (int i = 0; i < 40; i++) {
            int digits = 1 + r.nextInt(17);
            long m = (long) (r.nextDouble() * Math.pow(10, digits));
            ds.add(Double.parseDouble((r.nextBoolean() ? "-" : "") + m + "E" + (r.nextInt(40) - 20)));
        }
        for (double d : ds) {
            sb.append("double\t").append(Long.toHexString(Double.doubleToRawLongBits(d))).append('\t').append(d).append('\n');
        }
        List<Float> fs = new ArrayList<>(List.of(0.0f, -0.0f, 1.0f, 100.0f, 0.1f, 0.001f, 9.999999E-4f, 1.0E-5f, 1.0E7f,
            9999999.0f, 3.4028235E38f, Float.MIN_VALUE, Float.MIN_NORMAL, Float.NaN, Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, 16777217.0f, 3.0E10f, 0.3f, 6.4562299E10f));
        for (int i = 1; i <= 6; i++) fs.add(Float.intBitsToFloat(i));
        for (int i = 0; i < 25; i++) fs.add(Float.intBitsToFloat(r.nextInt()));
        for (int i = 0; i < 25; i++) {
            int digits = 1 + r.nextInt(9);
            long m = (long) (r.nextDouble() * Math.pow(10, digits));
            fs.add(Float.parseFloat((r.nextBoolean() ? "-" : "") + m + "E" + (r.nextInt(30) - 15)));
        }
        for (float f : fs) {
            sb.append("float\t").append(Integer.toHexString(Float.floatToRawIntBits(f))).append('\t').append(f).append('\n');
        }

        // java.util.Date.toString: Gregorian, Julian before the 1582 cutover, BCE, far future.
        List<Long> ms = new ArrayList<>(List.of(0L, -1L, 1L, 86399999L, 1700000000000L, 1699999999999L, -12219292800000L,
            -12219292800001L, -12219379200000L, -62135596800000L, -62135596800001L, -62198755200000L, -62167219200000L,
            -100000000000000L, 253402300799999L, 253402300800000L, 8640000000000000L, Long.MAX_VALUE, Long.MIN_VALUE,
            951782400000L, 951868800000L, 4107542400000L, -2208988800000L));
        for (int i = 0; i < 12; i++) ms.add(r.nextLong() >> r.nextInt(24));
        for (int i = 0; i < 12; i++) ms.add((long) (r.nextDouble() * 4e12) - 2000000000000L);
        for (long t : ms) {
            sb.append("date\t").append(t).append('\t').append(new Date(t)).append('\n');
        }
        // The same in other default zones (a worker's TZ), 1975 to 2035:
        // zone names are those Java and the tz database agree on.
        TimeZone utc = TimeZone.getDefault();
        for (String zone : new String[] {"Europe/Oslo", "America/New_York", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney"}) {
            TimeZone.setDefault(TimeZone.getTimeZone(zone));
            for (int i = 0; i < 4; i++) {
                long t = 157766400000L + (long) (r.nextDouble() * 1893456000000L);
                sb.append("datetz\t").append(zone).append('\t').append(t).append('\t').append(new Date(t)).append('\n');
            }
        }
        TimeZone.setDefault(utc);

        // BigDecimal.toString, including scientific notation and negative scales.
        for (int i = 0; i < 50; i++) {
            BigInteger unscaled = new BigInteger(1 + r.nextInt(i % 3 == 0 ? 130 : 40), r);
            if (r.nextBoolean()) unscaled = unscaled.negate();
            if (i % 25 == 0) unscaled = BigInteger.ZERO;
            int scale = r.nextInt(40) - 12;
            if (i % 7 == 0) scale = r.nextInt(200) - 100;
            sb.append("decimal\t").append(unscaled).append('\t').append(scale).append('\t')
                .append(new BigDecimal(unscaled, scale)).append('\n');
        }

        // String.hashCode, over UTF-16 units.
        String[] strs = {"", "a", "Aa", "BB", "hello", "e\u0301", "\u00e9", "\ud83d\ude00", "\u4e2d\u6587", "polygenelubricants",
            "key-with-a-rather-long-name-0123456789", "\u0000", "\uffff"};
        for (String s : strs) {
            sb.append("hash\t").append(Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8))).append('\t')
                .append(s.hashCode()).append('\n');
        }

        // HashMap iteration order, keys put in the order given. String keys
        // are put in sorted order, the order Ferry gives keys that share a
        // bucket. Ferry sizes the table from the key count and keeps a
        // bucket's keys in order, which is HashMap's behaviour unless 9 or
        // more keys share a bucket (then HashMap grows the table early, or
        // makes the bucket a tree): the keys here are random, not crafted
        // to collide.
        String alphabet = "abAB01_-\u00e9";
        for (int i = 0; i < 25; i++) {
            int n = 1 + r.nextInt(i % 5 == 0 ? 120 : 30);
            List<String> keys = new ArrayList<>();
            for (int k = 0; k < n; k++) {
                StringBuilder key = new StringBuilder();
                int len = 1 + r.nextInt(4);
                for (int j = 0; j < len; j++) key.append(alphabet.charAt(r.nextInt(alphabet.length())));
                keys.add(key.toString());
            }
            keys.sort(null);
            HashMap<String, Boolean> m = new HashMap<>();
            for (String k : keys) m.put(k, true);
            sb.append("strmap\t").append(mapper.writeValueAsString(keys)).append('\t')
                .append(mapper.writeValueAsString(new ArrayList<>(m.keySet()))).append('\n');
        }
        for (int i = 0; i < 25; i++) {
            int n = 1 + r.nextInt(i % 5 == 0 ? 100 : 30);
            List<Integer> keys = new ArrayList<>();
            for (int k = 0; k < n; k++) keys.add(r.nextBoolean() ? r.nextInt(200) - 50 : r.nextInt());
            HashMap<Integer, Boolean> m = new HashMap<>();
            for (Integer k : keys) m.put(k, true);
            sb.append("intmap\t").append(mapper.writeValueAsString(keys)).append('\t')
                .append(mapper.writeValueAsString(new ArrayList<>(m.keySet()))).append('\n');
        }
        return sb.toString();
    }
}

package example.streams;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.hadoop.util.ShutdownHookManager;
import org.apache.spark.SparkConf;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.StreamingQueryException;
import org.apache.spark.sql.streaming.StreamingQueryListener;
import org.apache.spark.sql.streaming.Trigger;
import org.apache.spark.sql.types.DataTypes;

import static org.apache.spark.sql.functions.call_udf;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

/**
 * A stream as spark-streams runs it: where it writes and where it keeps its progress come from
 * the Spark conf the program gives every stream, never from the job's own arguments.
 *
 * <ul>
 *   <li>{@code spark.streams.sink}: the stream's prefix in the lake (parquet goes there);</li>
 *   <li>{@code spark.streams.checkpointLocation}: its checkpoint (offsets, commits, state).</li>
 * </ul>
 *
 * <p>The source is Spark's {@code rate-micro-batch}: a fixed number of rows per micro-batch whose
 * {@code value}s are 0, 1, 2, ... in offset order, so a reader can tell whether each row landed
 * exactly once. On SIGTERM (a resubmission, a node drain) the query is stopped before Spark shuts
 * down, so no batch is left half-committed by the stop itself.
 *
 * <p>Arguments: {@code --rows-per-batch N} (10), {@code --trigger-ms N} (1000),
 * {@code --max-batches N} (stop after N batches of this run; 0, the default, runs for ever),
 * {@code --read URI} (repeatable: a prefix the stream reads; its files are read once at start),
 * {@code --dedupe} (drop duplicate values within a watermark: keeps state in the checkpoint),
 * {@code --slow-task-ms N} with {@code --slow-from-batch B} (from batch B on, the second task of
 * each batch waits N ms first, so the batch is visibly half-written for that long).
 */
public final class StreamJob {
    // The micro-batch a task belongs to: a local property Structured Streaming sets per batch.
    private static final String BATCH_ID = "streaming.sql.batchId";
    private static final long START_TIMESTAMP_MS = 1_767_225_600_000L; // 2026-01-01T00:00Z

    private StreamJob() {}

    static final class Options {
        long rowsPerBatch = 10;
        long triggerMs = 1000;
        long maxBatches = 0;
        long slowTaskMs = 0;
        long slowFromBatch = 0;
        boolean dedupe = false;
        final List<String> reads = new ArrayList<>();

        static Options parse(String[] args) {
            Options options = new Options();
            for (int i = 0; i < args.length; i++) {
                String name = args[i];
                switch (name) {
                    case "--dedupe" -> options.dedupe = true;
                    case "--rows-per-batch" -> options.rowsPerBatch = Long.parseLong(args[++i]);
                    case "--trigger-ms" -> options.triggerMs = Long.parseLong(args[++i]);
                    case "--max-batches" -> options.maxBatches = Long.parseLong(args[++i]);
                    case "--slow-task-ms" -> options.slowTaskMs = Long.parseLong(args[++i]);
                    case "--slow-from-batch" -> options.slowFromBatch = Long.parseLong(args[++i]);
                    case "--read" -> options.reads.add(args[++i]);
                    default -> throw new IllegalArgumentException("unknown argument " + name);
                }
            }
            return options;
        }
    }

    static void say(String line) {
        System.out.println("stream-job: " + line);
        System.out.flush();
    }

    static String required(SparkConf conf, String key) {
        if (!conf.contains(key)) {
            throw new IllegalStateException(
                    key + " is not set: spark-streams sets it on every stream's SparkApplication");
        }
        return conf.get(key);
    }

    public static void main(String[] args) throws TimeoutException, StreamingQueryException {
        Options options = Options.parse(args);
        SparkSession spark = SparkSession.builder().getOrCreate();
        SparkConf conf = spark.sparkContext().getConf();
        String sink = required(conf, "spark.streams.sink");
        String checkpoint = required(conf, "spark.streams.checkpointLocation");

        for (String uri : options.reads) {
            long files = spark.read().format("binaryFile").option("recursiveFileLookup", "true")
                    .load(uri).count();
            say("read " + uri + " files=" + files);
        }

        AtomicLong batches = new AtomicLong();
        spark.streams().addListener(new StreamingQueryListener() {
            @Override
            public void onQueryStarted(QueryStartedEvent event) {
                say("started id=" + event.id() + " runId=" + event.runId());
            }

            @Override
            public void onQueryProgress(QueryProgressEvent event) {
                // A progress event follows the batch's entry in the commit log.
                if (event.progress().numInputRows() > 0) {
                    batches.incrementAndGet();
                    say("committed batch=" + event.progress().batchId()
                            + " rows=" + event.progress().numInputRows());
                }
            }

            @Override
            public void onQueryTerminated(QueryTerminatedEvent event) {
                say("terminated" + (event.exception().isDefined() ? " with an error" : ""));
            }
        });

        long slowTaskMs = options.slowTaskMs;
        long slowFrom = options.slowFromBatch;
        spark.udf().register("slow_second_task", (UDF1<Long, Long>) value -> {
            TaskContext task = TaskContext.get();
            String batch = task == null ? null : task.getLocalProperty(BATCH_ID);
            if (slowTaskMs > 0 && batch != null && Long.parseLong(batch) >= slowFrom
                    && task.partitionId() == 1 && task.getLocalProperty("slow.done") == null) {
                task.getLocalProperties().setProperty("slow.done", "true");
                Thread.sleep(slowTaskMs);
            }
            return value;
        }, DataTypes.LongType);

        Dataset<Row> rows = spark.readStream()
                .format("rate-micro-batch")
                .option("rowsPerBatch", options.rowsPerBatch)
                .option("numPartitions", 2)
                // Event times from a fixed instant, one second per batch: rows at the epoch
                // itself would be "late" for the initial watermark (0) and be dropped by a
                // stateful operator with a watermark (--dedupe).
                .option("startTimestamp", START_TIMESTAMP_MS)
                .load()
                .withColumn("value", call_udf("slow_second_task", col("value")))
                // Lineage: which checkpoint (so which generation of the stream) wrote the row.
                .withColumn("checkpoint", lit(checkpoint));
        if (options.dedupe) {
            rows = rows.withWatermark("timestamp", "10 minutes").dropDuplicates("value");
        }

        StreamingQuery query = rows.writeStream()
                .format("parquet")
                .option("checkpointLocation", checkpoint)
                .trigger(Trigger.ProcessingTime(options.triggerMs))
                .start(sink);
        say("sink=" + sink + " checkpoint=" + checkpoint);

        // On SIGTERM, before Spark's own hook (priority 40 in Hadoop's manager) and Hadoop's
        // closing of every FileSystem (10): ask the main thread to stop the query and the
        // session, and wait until it has. A hook that returns at once lets those hooks run under
        // the session's stop: S3A is closed, the event log loses its last, not yet uploaded part
        // and stays "in progress"; stopping the query in the hook races main's stop of the
        // session (make e2e-data saw both).
        AtomicBoolean stopRequested = new AtomicBoolean();
        CountDownLatch stopped = new CountDownLatch(1);
        ShutdownHookManager.get().addShutdownHook(() -> {
            stopRequested.set(true);
            try {
                stopped.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, 100);

        try {
            while (query.isActive()) {
                query.awaitTermination(500);
                if (stopRequested.get()) {
                    say("shutting down: stopping the query");
                    query.stop();
                } else if (options.maxBatches > 0 && batches.get() >= options.maxBatches) {
                    query.stop();
                }
            }
        } finally {
            spark.stop();
            stopped.countDown();
        }
    }
}

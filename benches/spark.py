"""Spindle through Apache Spark (local mode) beside the CLI, dbldatagen on the same
Spark, and partitioned producers: the "## Spark and partitioned streams" section of
BENCHMARKS.md, made by `benches/compare.sh --only spark` (which installs pyspark,
dbldatagen and the package's release wheel into the venv). Each figure is the median
of --runs runs after a warm-up; the Spark session starts once and is not timed.
"""
import os, re, statistics, subprocess, sys, time

SECTION = "## Spark and partitioned streams"


def timed(work, runs):
    """Median wall seconds of `work()` over `runs` runs (after one untimed warm-up)."""
    work()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def dbldatagen_orders(spark, rows, partitions):
    """An order table like Spindle's (ids, foreign keys, a timestamp, a weighted status,
    a total), as dbldatagen makes it; None when dbldatagen does not run here."""
    try:
        import dbldatagen as dg
    except ImportError:
        return None
    return (
        dg.DataGenerator(spark, name="orders", rows=rows, partitions=partitions)
        .withColumn("order_id", "long", minValue=1, maxValue=rows)
        .withColumn("customer_id", "long", minValue=1, maxValue=500_000, random=True)
        .withColumn("store_id", "long", minValue=1, maxValue=200, random=True)
        .withColumn("shipping_address_id", "long", minValue=1, maxValue=1_000_000, random=True)
        .withColumn("promotion_id", "long", minValue=1, maxValue=100, random=True, percentNulls=0.8)
        .withColumn("order_date", "timestamp", begin="2022-01-01 00:00:00", end="2024-12-31 23:59:59",
                    interval="1 second", random=True)
        .withColumn("status", "string", values=["completed", "shipped", "processing", "cancelled", "returned"],
                    weights=[70, 10, 8, 7, 5], random=True)
        .withColumn("order_total", "double", minValue=5.0, maxValue=2000.0, random=True)
        .build()
    )


def spark_section(runs, spindle, run, tmp):
    """The section's lines; `run` runs a command (compare.run), outputs go under `tmp`."""
    from pyspark.sql import SparkSession

    from spindle_engine import _native
    from spindle_engine.spark import generate_table, stream

    os.environ["PYSPARK_PYTHON"] = sys.executable
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.driver.memory", "4g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    rows = dict(_native.row_counts("retail", "large"))["order"]
    lines = []
    try:
        cli = timed(lambda: run([spindle, "generate", "retail", "--scale", "large", "--tables", "order",
                                 "--output", f"{tmp}/cli", "--force", "-q"]), runs)
        gen = []
        for partitions in [2, 8]:
            wall = timed(lambda: generate_table(spark, "retail", "order", scale="large", partitions=partitions)
                         .write.mode("overwrite").parquet(f"{tmp}/spark"), runs)
            gen.append((f"spindle_engine.spark, {partitions} partitions", wall))
            print(gen[-1], flush=True)
        dbl = dbldatagen_orders(spark, rows, 8)
        if dbl is not None:
            wall = timed(lambda: dbl.write.mode("overwrite").parquet(f"{tmp}/dbl"), runs)
            gen.append(("dbldatagen (8 columns like `order`), 8 partitions", wall))
            print(gen[-1], flush=True)

        # Producers: one process, then two at once (parts 0 and 1 of 2), to /dev/null.
        base = [spindle, "stream", "retail", "--table", "order", "--scale", "large", "--sink", "file:/dev/null", "-q"]
        one = run(base)
        events = int(re.search(r"events=([\d,]+),", one[2]).group(1).replace(",", ""))
        start = time.perf_counter()
        procs = [subprocess.Popen(base + ["--part", str(i), "--parts", "2"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT) for i in range(2)]
        outs = [p.communicate()[0].decode() for p in procs]
        two = time.perf_counter() - start
        sent = [int(re.search(r"events=([\d,]+),", o).group(1).replace(",", "")) for o in outs]
        assert sum(sent) == events, (sent, events)
        spark_stream = timed(lambda: stream(spark, "retail", "order", sink="file:/dev/null", partitions=2,
                                            scale="large"), runs)

        lines = [SECTION, "",
                 f"`order` at `large` ({rows:,} rows) on this machine's 2 cores, Spark {spark.version} in local mode "
                 f"(`local[2]`); median of {runs} runs after a warm-up, the session already started. Command: "
                 f"`benches/compare.sh --only spark --runs {runs}`.", "",
                 "| to Parquet | wall | rows/s | rows/s per core | vs the CLI |", "|---|---|---|---|---|",
                 f"| `spindle generate` (the CLI, one process) | {cli:.2f} s | {rows / cli:,.0f} | {rows / cli / 2:,.0f} | 1.00 |"]
        for label, wall in gen:
            lines.append(f"| {label} | {wall:.2f} s | {rows / wall:,.0f} | {rows / wall / 2:,.0f} | {wall / cli:.2f} |")
        lines += ["", "Producers, `order` at `large` to /dev/null (each part generates the whole table and sends "
                  "every second event):", "",
                  "| producers | wall | events/s (all) | events/s per producer |", "|---|---|---|---|",
                  f"| 1 process | {one[0]:.2f} s | {events / one[0]:,.0f} | {events / one[0]:,.0f} |",
                  f"| 2 processes (`--part 0/1 --parts 2`) | {two:.2f} s | {events / two:,.0f} | {events / two / 2:,.0f} |",
                  f"| 2 Spark tasks (`spindle_engine.spark.stream`, `partitions=2`) | {spark_stream:.2f} s "
                  f"| {events / spark_stream:,.0f} | {events / spark_stream / 2:,.0f} |", ""]
    finally:
        spark.stop()
    return lines

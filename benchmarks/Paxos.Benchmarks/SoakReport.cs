using System.Globalization;
using System.Text;
using System.Xml.Linq;

namespace Paxos.Benchmarks;

// The soak's CSV and chart: pure code over the samples, with nothing but the base library, so that a test can
// compile this file on its own (tests/Paxos.Crash.Tests links it) without depending on the benchmarks.

/// <summary>One replica at one sample of a soak run; a figure is null when it could not be read (the process was
/// down, or did not answer in time).</summary>
/// <param name="RssMiB">Resident memory: <c>VmRSS</c> from <c>/proc/PID/status</c>.</param>
/// <param name="DiskMiB">The sum of the lengths of the files under the replica's data directory; null in memory.</param>
/// <param name="Behind">Updates the cluster had executed that this replica had not (the highest executed sequence
/// among the replicas minus its own).</param>
internal readonly record struct SoakReplicaSample(bool Up, double? RssMiB, double? DiskMiB, long? Behind);

/// <summary>One sample of a soak run.</summary>
/// <param name="ElapsedSeconds">Since the load started.</param>
/// <param name="UpdatesPerSecond">Updates the cluster executed over the interval that ends here, per second (each
/// is acknowledged to its writer when the replica running the writers executes it); null for the first sample.</param>
/// <param name="ClusterExecuted">The highest executed sequence any replica has reported so far.</param>
/// <param name="Leader">The replica that said it was the leader, or -1.</param>
/// <param name="P50Micros">Median latency of the load chunk that ended in this interval, or null.</param>
/// <param name="P99Micros">Its 99th percentile, or null.</param>
/// <param name="Events">What happened in the interval (a kill, a restart, a guard), in order.</param>
internal sealed record SoakSample(
    double ElapsedSeconds,
    double? UpdatesPerSecond,
    long ClusterExecuted,
    int Leader,
    double? P50Micros,
    double? P99Micros,
    IReadOnlyList<SoakReplicaSample> Replicas,
    IReadOnlyList<string> Events);

/// <summary>A span of the run to mark on the chart: a replica down (<see cref="Start"/> to <see cref="End"/>), or an
/// instant such as a restart (<see cref="End"/> equal to <see cref="Start"/>).</summary>
internal readonly record struct SoakMarker(double Start, double End, string Label);

/// <summary><c>soak.csv</c>: a header, then one line per sample.</summary>
internal static class SoakCsv
{
    public static string Header(int replicas)
    {
        var columns = new List<string> { "elapsed_s", "updates_per_s", "cluster_executed", "leader", "p50_us", "p99_us" };
        for (var i = 0; i < replicas; i++)
        {
            columns.AddRange([Invariant($"r{i}_up"), Invariant($"r{i}_rss_mib"), Invariant($"r{i}_disk_mib"), Invariant($"r{i}_behind")]);
        }

        columns.Add("events");
        return string.Join(',', columns);
    }

    public static string Row(SoakSample sample)
    {
        var fields = new List<string>
        {
            Number(sample.ElapsedSeconds, "0.000"),
            Number(sample.UpdatesPerSecond, "0"),
            sample.ClusterExecuted.ToString(CultureInfo.InvariantCulture),
            sample.Leader.ToString(CultureInfo.InvariantCulture),
            Number(sample.P50Micros, "0"),
            Number(sample.P99Micros, "0"),
        };
        foreach (var replica in sample.Replicas)
        {
            fields.Add(replica.Up ? "1" : "0");
            fields.Add(Number(replica.RssMiB, "0.0"));
            fields.Add(Number(replica.DiskMiB, "0.0"));
            fields.Add(replica.Behind is { } behind ? behind.ToString(CultureInfo.InvariantCulture) : string.Empty);
        }

        fields.Add(Quote(string.Join("; ", sample.Events)));
        return string.Join(',', fields);
    }

    /// <summary>The whole file, header and rows, each line ending in <c>\n</c>.</summary>
    public static string Write(IReadOnlyList<SoakSample> samples, int replicas)
    {
        var text = new StringBuilder(Header(replicas)).Append('\n');
        foreach (var sample in samples)
        {
            text.Append(Row(sample)).Append('\n');
        }

        return text.ToString();
    }

    private static string Number(double? value, string format) =>
        value is { } v && double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : string.Empty;

    /// <summary>RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled.</summary>
    private static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") < 0 ? field : "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}

/// <summary>
/// <c>soak.svg</c>: three panels over a shared time axis — the cluster's throughput, each replica's resident memory,
/// each replica's data directory — with axes, ticks, labels and a legend, and the scripted events marked across all
/// three (a shaded band while a replica is down, a dashed line at a restart).
/// </summary>
internal static class SoakSvg
{
    public const int Width = 1100;

    private const double Left = 90;
    private const double PlotWidth = 820;
    private const double Top = 86;
    private const double PanelHeight = 210;
    private const double PanelGap = 64;

    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    private static readonly string[] Palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"];

    /// <summary>The chart as SVG text; <paramref name="title"/> and <paramref name="subtitle"/> head it.</summary>
    public static string Render(IReadOnlyList<SoakSample> samples, int replicas, IReadOnlyList<SoakMarker> markers, string title, string subtitle)
    {
        var xStep = TimeStep(samples.Count == 0 ? 1 : samples[^1].ElapsedSeconds);
        var xMax = Math.Max(1, Math.Ceiling((samples.Count == 0 ? 1 : samples[^1].ElapsedSeconds) / xStep - 1e-9)) * xStep;
        var panels = new (string Title, string Unit, Func<SoakSample, int, double?> Value, bool PerReplica)[]
        {
            ("Throughput: updates the cluster executed per second", "updates/s", (s, _) => s.UpdatesPerSecond, false),
            ("Resident memory per replica (VmRSS)", "MiB", (s, r) => s.Replicas[r].RssMiB, true),
            ("Data directory per replica (sum of file lengths)", "MiB", (s, r) => s.Replicas[r].DiskMiB, true),
        };
        var height = Top + (panels.Length * (PanelHeight + PanelGap)) + 10;
        var root = new XElement(Svg + "svg",
            new XAttribute("width", Width),
            new XAttribute("height", Num(height)),
            new XAttribute("viewBox", Invariant($"0 0 {Width} {Num(height)}")),
            new XAttribute("font-family", "sans-serif"),
            new XAttribute("font-size", 12),
            new XElement(Svg + "rect", new XAttribute("width", "100%"), new XAttribute("height", "100%"), new XAttribute("fill", "white")),
            Text(Left, 24, title, 16, "start", "bold"),
            Text(Left, 44, subtitle, 12, "start", null));
        for (var p = 0; p < panels.Length; p++)
        {
            var (panelTitle, unit, value, perReplica) = panels[p];
            var top = Top + (p * (PanelHeight + PanelGap));
            var series = perReplica
                ? Enumerable.Range(0, replicas).Select(r => (Label: Invariant($"r{r}"), Color: Palette[r % Palette.Length], Index: r)).ToList()
                : [("cluster", "#222222", 0)];
            root.Add(Panel(samples, markers, panelTitle, unit, top, (xMax, xStep), series, value, isLast: p == panels.Length - 1));
        }

        return new XDocument(new XDeclaration("1.0", "utf-8", null), root).Declaration + "\n" + root.ToString(SaveOptions.None) + "\n";
    }

    private static XElement Panel(
        IReadOnlyList<SoakSample> samples,
        IReadOnlyList<SoakMarker> markers,
        string title,
        string unit,
        double top,
        (double Max, double Step) x,
        List<(string Label, string Color, int Index)> series,
        Func<SoakSample, int, double?> value,
        bool isLast)
    {
        var bottom = top + PanelHeight;
        var values = series.SelectMany(s => samples.Select(sample => value(sample, s.Index))).OfType<double>().Where(double.IsFinite).ToList();
        var yStep = ValueStep(values.Count == 0 ? 1 : values.Max());
        var yMax = Math.Max(1, Math.Ceiling((values.Count == 0 ? 1 : values.Max()) / yStep - 1e-9)) * yStep;
        var xMax = x.Max;
        double X(double seconds) => Left + (PlotWidth * seconds / xMax);
        double Y(double v) => bottom - (PanelHeight * Math.Clamp(v / yMax, 0, 1.05));

        var panel = new XElement(Svg + "g", new XAttribute("class", "panel"), new XAttribute("data-title", title));
        panel.Add(Text(Left, top - 10, title, 13, "start", "bold"));

        // Grid and ticks at round steps: y from 0 to yMax, x from 0 to xMax.
        for (var i = 0; i * yStep <= yMax * (1 + 1e-9); i++)
        {
            var yValue = i * yStep;
            var y = Y(yValue);
            panel.Add(Line(Left, y, Left + PlotWidth, y, "#e4e4e4", null));
            panel.Add(Line(Left - 5, y, Left, y, "#444444", null));
            panel.Add(Text(Left - 8, y + 4, Tick(yValue, yMax), 11, "end", null));
        }

        for (var i = 0; i * x.Step <= xMax * (1 + 1e-9); i++)
        {
            var xAt = X(i * x.Step);
            panel.Add(Line(xAt, top, xAt, bottom, "#f0f0f0", null));
            panel.Add(Line(xAt, bottom, xAt, bottom + 5, "#444444", null));
            panel.Add(Text(xAt, bottom + 18, Tick(i * x.Step, xMax), 11, "middle", null));
        }

        panel.Add(Text(Left + (PlotWidth / 2), bottom + (isLast ? 36 : 34), "elapsed (s)", 11, "middle", null));
        var yLabel = Text(24, top + (PanelHeight / 2), unit, 11, "middle", null);
        yLabel.Add(new XAttribute("transform", Invariant($"rotate(-90 24 {Num(top + (PanelHeight / 2))})")));
        panel.Add(yLabel);

        // The events: a shaded band for a span, a dashed line for an instant, labelled at the top.
        foreach (var marker in markers)
        {
            var x0 = X(Math.Clamp(marker.Start, 0, xMax));
            var x1 = X(Math.Clamp(marker.End, 0, xMax));
            if (x1 > x0)
            {
                panel.Add(new XElement(Svg + "rect",
                    new XAttribute("class", "marker"),
                    new XAttribute("x", Num(x0)), new XAttribute("y", Num(top)),
                    new XAttribute("width", Num(x1 - x0)), new XAttribute("height", Num(PanelHeight)),
                    new XAttribute("fill", "#888888"), new XAttribute("fill-opacity", "0.15")));
            }
            else
            {
                panel.Add(Line(x0, top, x0, bottom, "#555555", "5,4"));
            }

            panel.Add(Text(x0 + 3, top + 12, marker.Label, 10, "start", null));
        }

        // The series: one polyline per unbroken run of values (a replica that was down leaves a gap).
        foreach (var (label, color, index) in series)
        {
            var points = new List<string>();
            void Flush()
            {
                if (points.Count > 0)
                {
                    panel.Add(new XElement(Svg + "polyline",
                        new XAttribute("class", "series"),
                        new XAttribute("data-series", label),
                        new XAttribute("points", string.Join(' ', points)),
                        new XAttribute("fill", "none"),
                        new XAttribute("stroke", color),
                        new XAttribute("stroke-width", "1.5"),
                        new XAttribute("stroke-linejoin", "round")));
                    points.Clear();
                }
            }

            foreach (var sample in samples)
            {
                if (value(sample, index) is { } v && double.IsFinite(v))
                {
                    points.Add(Invariant($"{Num(X(sample.ElapsedSeconds))},{Num(Y(v))}"));
                }
                else
                {
                    Flush();
                }
            }

            Flush();
        }

        if (values.Count == 0)
        {
            panel.Add(Text(Left + (PlotWidth / 2), top + (PanelHeight / 2), "no data (in memory: no data directory)", 12, "middle", null));
        }

        // Axes over the grid, then the legend to the right of the plot.
        panel.Add(Line(Left, top, Left, bottom, "#444444", null));
        panel.Add(Line(Left, bottom, Left + PlotWidth, bottom, "#444444", null));
        var legendX = Left + PlotWidth + 20;
        for (var i = 0; i < series.Count; i++)
        {
            var y = top + 10 + (i * 18);
            panel.Add(new XElement(Svg + "g", new XAttribute("class", "legend"),
                Line(legendX, y, legendX + 22, y, series[i].Color, null, 3),
                Text(legendX + 28, y + 4, series[i].Label, 12, "start", null)));
        }

        return panel;
    }

    /// <summary>A round step for a value axis up to <paramref name="max"/>: 1, 2, 2.5 or 5 times a power of ten, with
    /// at most five steps to the maximum.</summary>
    public static double ValueStep(double max)
    {
        if (!(max > 0) || !double.IsFinite(max))
        {
            return 1;
        }

        var target = max / 5;
        var power = Math.Pow(10, Math.Floor(Math.Log10(target)));
        foreach (var step in new[] { 1, 2, 2.5, 5 })
        {
            if (step * power >= target * (1 - 1e-12))
            {
                return step * power;
            }
        }

        return 10 * power;
    }

    /// <summary>A step for a time axis up to <paramref name="seconds"/> that reads as time: 1, 2, 5, 10, 15 or 30 s,
    /// then whole minutes (1, 2, 5, 10, 15, 30, 60), with at most eight steps.</summary>
    public static double TimeStep(double seconds)
    {
        foreach (var step in new double[] { 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600 })
        {
            if (step * 8 >= seconds)
            {
                return step;
            }
        }

        return 3600 * Math.Ceiling(seconds / 8 / 3600);
    }

    private static string Tick(double value, double max) =>
        value == 0 ? "0"
        : max >= 10_000 ? (value / 1000).ToString("0.#", CultureInfo.InvariantCulture) + "k"
        : max >= 10 ? value.ToString("0", CultureInfo.InvariantCulture)
        : value.ToString("0.##", CultureInfo.InvariantCulture);

    private static XElement Line(double x1, double y1, double x2, double y2, string color, string? dash, double width = 1)
    {
        var line = new XElement(Svg + "line",
            new XAttribute("x1", Num(x1)), new XAttribute("y1", Num(y1)), new XAttribute("x2", Num(x2)), new XAttribute("y2", Num(y2)),
            new XAttribute("stroke", color), new XAttribute("stroke-width", Num(width)));
        if (dash is not null)
        {
            line.Add(new XAttribute("stroke-dasharray", dash));
        }

        return line;
    }

    private static XElement Text(double x, double y, string text, int size, string anchor, string? weight)
    {
        var element = new XElement(Svg + "text",
            new XAttribute("x", Num(x)), new XAttribute("y", Num(y)), new XAttribute("font-size", size), new XAttribute("text-anchor", anchor), text);
        if (weight is not null)
        {
            element.Add(new XAttribute("font-weight", weight));
        }

        return element;
    }

    private static string Num(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}

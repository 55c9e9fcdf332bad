using System.Xml.Linq;
using Paxos.Benchmarks;

namespace Paxos.Crash.Tests;

/// <summary>The soak's CSV and chart (benchmarks/Paxos.Benchmarks/SoakReport.cs, compiled into this project): pure
/// functions of the samples, checked without running a cluster.</summary>
[TestFixture]
public sealed class SoakReportTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    /// <summary>Three replicas over four seconds, durable: r1 is down at 2 s (no memory, no status) and back at 3 s.</summary>
    private static List<SoakSample> Samples() =>
    [
        Sample(0, null, 0, [Up(40, 64, 0), Up(41, 64, 0), Up(42, 64, 0)], "0.010 s writers run on r0"),
        Sample(1, 150_000.5, 150_000, [Up(100, 64, 0), Up(110.25, 64, 12), Up(105, 64, 3)]),
        Sample(2, 120_000, 270_000, [Up(160, 128, 0), new SoakReplicaSample(false, null, 128, null), Up(150, 64, 0)], "1.500 s r1 killed (SIGKILL)", "say \"hi\", twice"),
        Sample(3, 130_000, 400_000, [Up(200, 128, 0), Up(60, 128, 90_000), Up(190, 128, 0)]),
        Sample(4, 140_000, 540_000, [Up(240, 192, 0), Up(120, 128, 0), Up(230, 128, 0)]),
    ];

    [Test]
    public void The_csv_has_a_header_and_one_row_per_sample()
    {
        var lines = SoakCsv.Write(Samples(), replicas: 3).Split('\n');

        lines[0].Should().Be("elapsed_s,updates_per_s,cluster_executed,leader,p50_us,p99_us,"
            + "r0_up,r0_rss_mib,r0_disk_mib,r0_behind,r1_up,r1_rss_mib,r1_disk_mib,r1_behind,r2_up,r2_rss_mib,r2_disk_mib,r2_behind,events");
        lines.Should().HaveCount(7, "a header, five rows and the empty string after the last line break");
        lines[^1].Should().BeEmpty();
        lines[1].Should().Be("0.000,,0,0,,,1,40.0,64.0,0,1,41.0,64.0,0,1,42.0,64.0,0,0.010 s writers run on r0", "the first sample has no interval, so no throughput");
        lines[2].Should().StartWith("1.000,150001,150000,0,250,1200,1,100.0,64.0,0,1,110.3,64.0,12,");
        lines[3].Should().Be("2.000,120000,270000,0,250,1200,1,160.0,128.0,0,0,,128.0,,1,150.0,64.0,0,\"1.500 s r1 killed (SIGKILL); say \"\"hi\"\", twice\"",
            "a replica that is down has no memory nor lag, and an event with a comma or a quote is quoted");
        foreach (var row in lines[1..^1])
        {
            SplitCsv(row).Should().HaveCount(lines[0].Split(',').Length);
        }
    }

    [Test]
    public void The_svg_is_well_formed_with_three_panels_series_legends_and_markers()
    {
        var markers = new List<SoakMarker> { new(1.5, 2.5, "r1 down"), new(3.2, 3.2, "r2 restart") };
        var text = SoakSvg.Render(Samples(), 3, markers, "Paxos soak <test> & more", "subtitle");

        var document = XDocument.Parse(text);
        document.Root!.Name.Should().Be(Svg + "svg");
        var panels = document.Root.Elements(Svg + "g").Where(g => (string?)g.Attribute("class") == "panel").ToList();
        panels.Select(p => (string?)p.Attribute("data-title")).Should().Equal(
            "Throughput: updates the cluster executed per second",
            "Resident memory per replica (VmRSS)",
            "Data directory per replica (sum of file lengths)");
        document.Descendants(Svg + "text").Select(t => t.Value).Should().Contain("Paxos soak <test> & more");

        var series = panels.Select(p => p.Elements(Svg + "polyline").Select(l => (string?)l.Attribute("data-series")).ToList()).ToList();
        series[0].Should().Equal("cluster");
        series[1].Should().Equal(["r0", "r1", "r1", "r2"], "r1's memory breaks where it was down");
        series[2].Should().Equal("r0", "r1", "r2");
        panels[0].Element(Svg + "polyline")!.Attribute("points")!.Value.Split(' ').Should().HaveCount(4, "the first sample has no throughput");

        foreach (var panel in panels)
        {
            panel.Elements(Svg + "g").Where(g => (string?)g.Attribute("class") == "legend").Should().NotBeEmpty();
            panel.Elements(Svg + "rect").Where(r => (string?)r.Attribute("class") == "marker").Should().ContainSingle("the down window is a band");
            panel.Elements(Svg + "line").Where(l => l.Attribute("stroke-dasharray") is not null).Should().ContainSingle("the restart is a dashed line");
            panel.Elements(Svg + "text").Select(t => t.Value).Should().Contain(["r1 down", "r2 restart", "elapsed (s)"]);
        }
    }

    [Test]
    public void An_in_memory_run_says_its_disk_panel_has_no_data()
    {
        var samples = Samples().Select(s => s with { Replicas = [.. s.Replicas.Select(r => r with { DiskMiB = null })] }).ToList();

        var document = XDocument.Parse(SoakSvg.Render(samples, 3, [], "t", "s"));

        var disk = document.Root!.Elements(Svg + "g").Last(g => (string?)g.Attribute("class") == "panel");
        disk.Elements(Svg + "polyline").Should().BeEmpty();
        disk.Elements(Svg + "text").Select(t => t.Value).Should().Contain(v => v.StartsWith("no data", StringComparison.Ordinal));
    }

    [TestCase(30, 5)]
    [TestCase(90, 15)]
    [TestCase(600, 120)]
    [TestCase(3600, 600)]
    public void Time_ticks_are_round(double seconds, double step) => SoakSvg.TimeStep(seconds).Should().Be(step);

    [TestCase(41_030, 10_000)]
    [TestCase(228, 50)]
    [TestCase(9, 2)]
    [TestCase(0, 1)]
    public void Value_ticks_are_round(double max, double step) => SoakSvg.ValueStep(max).Should().Be(step);

    private static SoakReplicaSample Up(double rss, double disk, long behind) => new(true, rss, disk, behind);

    private static SoakSample Sample(double t, double? rate, long executed, SoakReplicaSample[] replicas, params string[] events) =>
        new(t, rate, executed, 0, rate is null ? null : 250, rate is null ? null : 1200, replicas, events);

    /// <summary>The fields of a CSV line (RFC 4180 quoting).</summary>
    private static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        fields.Add(field.ToString());
        return fields;
    }
}

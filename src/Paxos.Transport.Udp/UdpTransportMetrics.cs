using System.Diagnostics.Metrics;

namespace Paxos.Transport.Udp;

/// <summary>
/// The transport's instruments, on the meter <see cref="MeterName"/>: counters of datagrams sent and received,
/// of frames delivered and of frames dropped, tagged with the replica id and, for drops, the reason.
/// </summary>
internal sealed class UdpTransportMetrics : IDisposable
{
    public const string MeterName = "Paxos.Transport.Udp";

    private static readonly string[] ReasonNames = BuildReasonNames();

    private readonly Meter? _ownedMeter;
    private readonly Counter<long> _datagramsSent;
    private readonly Counter<long> _datagramsReceived;
    private readonly Counter<long> _framesReceived;
    private readonly Counter<long> _framesDropped;

    // Boxed once, so that recording a measurement allocates nothing.
    private readonly KeyValuePair<string, object?> _replicaTag;
    private readonly KeyValuePair<string, object?>[] _reasonTags;

    public UdpTransportMetrics(int replica, IMeterFactory? meterFactory)
    {
        var meter = meterFactory?.Create(MeterName) ?? (_ownedMeter = new Meter(MeterName));
        _datagramsSent = meter.CreateCounter<long>("paxos.udp.datagrams.sent", "{datagram}", "Datagrams the socket accepted.");
        _datagramsReceived = meter.CreateCounter<long>("paxos.udp.datagrams.received", "{datagram}", "Datagrams read from the socket.");
        _framesReceived = meter.CreateCounter<long>("paxos.udp.frames.received", "{frame}", "Frames decoded, checked and handed to the replica.");
        _framesDropped = meter.CreateCounter<long>("paxos.udp.frames.dropped", "{frame}", "Frames or datagrams dropped, by reason.");
        _replicaTag = new KeyValuePair<string, object?>("replica", replica);
        _reasonTags = new KeyValuePair<string, object?>[ReasonNames.Length];
        for (var i = 0; i < ReasonNames.Length; i++)
        {
            _reasonTags[i] = new KeyValuePair<string, object?>("reason", ReasonNames[i]);
        }
    }

    public void DatagramSent() => _datagramsSent.Add(1, _replicaTag);

    public void DatagramReceived() => _datagramsReceived.Add(1, _replicaTag);

    public void FrameReceived() => _framesReceived.Add(1, _replicaTag);

    public void Dropped(UdpDropReason reason, long count) => _framesDropped.Add(count, _replicaTag, _reasonTags[(int)reason]);

    public void Dispose() => _ownedMeter?.Dispose();

    private static string[] BuildReasonNames()
    {
        var reasons = Enum.GetValues<UdpDropReason>();
        var names = new string[(int)reasons[^1] + 1];
        names[0] = "None"; // No reason has the value 0; the slot only keeps the table dense.
        foreach (var reason in reasons)
        {
            names[(int)reason] = reason.ToString();
        }

        return names;
    }
}

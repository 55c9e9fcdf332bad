using System.Globalization;
using System.Net;
using Paxos.Messages;
using Paxos.Transport.Udp;

namespace Paxos.Sample.Replica;

/// <summary>Everything one replica process needs: who it is, where its peers listen, where its clients connect.</summary>
internal sealed record ReplicaSettings(
    int Id,
    IReadOnlyDictionary<int, string> Peers,
    IPEndPoint UdpEndpoint,
    IPEndPoint ClientEndpoint,
    string? ClusterKey,
    int TickMillis,
    int MaxDatagramBytes,
    bool Child,
    string? DataDirectory = null,
    bool Rebuild = false,
    bool KeepHistory = true,
    bool LeaderSendsAccept = false,
    bool InlineCompletions = false,
    long SnapshotEverySlots = 100_000,
    IPEndPoint? ListenerEndpoint = null,
    string? ClientKey = null,
    bool ReadLeases = false)
{
    /// <summary>The cluster id every sample replica uses; frames of other clusters are dropped.</summary>
    public const uint ClusterId = 0x5A4D_91E5;

    public const int DefaultTickMillis = 10;

    /// <summary>The default largest datagram when every replica is on a loopback address: loopback's MTU is 65,536,
    /// so an 8 KiB datagram is never fragmented there, and a Proposal carries a full batch of 64-byte updates.</summary>
    public const int LoopbackMaxDatagramBytes = 8192;

    /// <summary>The client port is the UDP port plus this, unless <c>--client-port</c> says otherwise.</summary>
    public const int ClientPortOffset = 100;

    /// <summary>The Paxos.Client listener's port is the UDP port plus this, unless <c>--listener-port</c> says otherwise
    /// (a replica started by the demo takes any free port and says which on its READY line).</summary>
    public const int ListenerPortOffset = 200;

    public static readonly string[] Flags = ["child", "rebuild", "no-history", "leader-sends-accept", "inline-completions", "read-leases"];

    public static readonly string[] Options = ["id", "peers", "client-port", "cluster-key", "tick-ms", "max-datagram-bytes", "data-dir", "snapshot-every", "listener-port", "client-key"];

    public int ClusterSize => Peers.Count;

    /// <summary>Reads <c>--id 2 --peers 0=host:port,1=host:port,2=host:port [--client-port P] [--cluster-key K]
    /// [--tick-ms T] [--max-datagram-bytes B] [--data-dir DIR] [--snapshot-every N] [--rebuild] [--no-history] [--leader-sends-accept]
    /// [--inline-completions] [--read-leases]</c>.</summary>
    /// <exception cref="UsageException">Something is missing or out of range.</exception>
    public static ReplicaSettings From(CommandOptions line)
    {
        var peersText = line.Text("peers") ?? throw new UsageException("A replica needs --peers 0=host:port,1=host:port,... (every replica, itself included).");
        var peers = ParsePeers(peersText);
        if (!line.Has("id"))
        {
            throw new UsageException("A replica needs --id, its own id among --peers.");
        }

        var id = line.Int("id", 0, 0, peers.Count - 1);
        var udp = ParseEndpoint(peers[id], $"--peers entry {id}");
        var clientPort = line.Int("client-port", udp.Port + ClientPortOffset, 1, IPEndPoint.MaxPort);
        if (clientPort > IPEndPoint.MaxPort)
        {
            throw new UsageException($"The default client port ({udp.Port} + {ClientPortOffset}) is out of range; give --client-port.");
        }

        var listenerPort = line.Int("listener-port", line.Has("child") ? 0 : udp.Port + ListenerPortOffset, 0, IPEndPoint.MaxPort);
        if (listenerPort > IPEndPoint.MaxPort)
        {
            throw new UsageException($"The default listener port ({udp.Port} + {ListenerPortOffset}) is out of range; give --listener-port.");
        }

        var clientKey = line.Text("client-key");
        if (clientKey is not null && !IsKey(clientKey))
        {
            throw new UsageException("--client-key must be base64 of at least 16 bytes, the same on every replica and client.");
        }

        var key = line.Text("cluster-key");
        if (key is not null && !IsKey(key))
        {
            throw new UsageException("--cluster-key must be base64 of at least 16 bytes, the same on every replica.");
        }

        return new ReplicaSettings(
            id,
            peers,
            udp,
            new IPEndPoint(udp.Address, clientPort),
            key,
            line.Int("tick-ms", DefaultTickMillis, 1, 1000),
            line.Int("max-datagram-bytes", AllLoopback(peers) ? LoopbackMaxDatagramBytes : UdpTransportOptions.DefaultMaxDatagramBytes, UdpTransportOptions.MinDatagramBytes, UdpTransportOptions.MaxDatagramBytesLimit),
            line.Has("child"),
            DataDirectoryOption(line),
            line.Has("rebuild"),
            !line.Has("no-history"),
            line.Has("leader-sends-accept"),
            line.Has("inline-completions"),
            line.Long("snapshot-every", 100_000, 0, 1_000_000_000),
            new IPEndPoint(udp.Address, listenerPort),
            clientKey,
            line.Has("read-leases"));
    }

    /// <summary>The replica's protocol options: defaults, but for this replica's id, size and tick, and messages as
    /// large as the transport's datagrams allow.</summary>
    public PaxosOptions PaxosOptions(int udpMaxMessageBytes) => new()
    {
        ReplicaId = Id,
        ClusterId = ClusterId,
        ClusterSize = ClusterSize,
        TickInterval = TimeSpan.FromMilliseconds(TickMillis),
        MaxMessageBytes = Math.Min(udpMaxMessageBytes, MessageSizes.MaxMessageBytes),
        DataDirectory = DataDirectory,
        RebuildFromPeers = Rebuild,
        LeaderSendsAccept = LeaderSendsAccept,
        ReadLeases = ReadLeases,
        UnsafePreferInlineCompletions = InlineCompletions,
        SnapshotIntervalSlots = SnapshotEverySlots,
        RetainedSlots = Math.Min(10_000, SnapshotEverySlots / 2),
    };

    public UdpTransportOptions UdpOptions()
    {
        var options = new UdpTransportOptions
        {
            ReplicaId = Id,
            BindEndpoint = UdpEndpoint.ToString(),
            ClusterId = ClusterId,
            ClusterKey = ClusterKey,
            MaxDatagramBytes = MaxDatagramBytes,
        };
        foreach (var (peer, endpoint) in Peers)
        {
            options.Peers[peer] = endpoint;
        }

        return options;
    }

    /// <summary>The command-line arguments that describe a replica of a cluster whose replicas listen on
    /// <paramref name="udpPorts"/> of 127.0.0.1 and take clients on <paramref name="clientPorts"/>.</summary>
    public static List<string> LocalArguments(int id, int[] udpPorts, int[] clientPorts)
    {
        var peers = string.Join(',', udpPorts.Select((port, i) => string.Create(CultureInfo.InvariantCulture, $"{i}=127.0.0.1:{port}")));
        return ["--id", id.ToString(CultureInfo.InvariantCulture), "--peers", peers, "--client-port", clientPorts[id].ToString(CultureInfo.InvariantCulture)];
    }

    /// <summary>Whether every replica's endpoint is a loopback address (the whole cluster on one machine).</summary>
    private static bool AllLoopback(IReadOnlyDictionary<int, string> peers) =>
        peers.All(peer => IPAddress.IsLoopback(ParseEndpoint(peer.Value, $"--peers entry {peer.Key}").Address));

    /// <summary><c>--data-dir</c> as a full path, so that what the replica prints is unambiguous; null when absent.</summary>
    private static string? DataDirectoryOption(CommandOptions line)
    {
        if (line.Text("data-dir") is not { } text)
        {
            return null;
        }

        try
        {
            return string.IsNullOrWhiteSpace(text) ? throw new UsageException("--data-dir needs a directory.") : Path.GetFullPath(text);
        }
        catch (Exception exception) when (exception is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new UsageException($"--data-dir '{text}' is not a usable path: {exception.Message}", exception);
        }
    }

    private static Dictionary<int, string> ParsePeers(string text)
    {
        var peers = new Dictionary<int, string>();
        foreach (var entry in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0
                || !int.TryParse(entry.AsSpan(0, equals), NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                || id >= ReplicaId.MaxClusterSize)
            {
                throw new UsageException($"'{entry}' in --peers is not id=host:port with an id from 0 to {ReplicaId.MaxClusterSize - 1}.");
            }

            var endpoint = entry[(equals + 1)..];
            if (ParseEndpoint(endpoint, $"--peers entry {id}").Port == 0 || !peers.TryAdd(id, endpoint))
            {
                throw new UsageException($"--peers entry {id} is repeated or has port 0.");
            }
        }

        for (var id = 0; id < peers.Count; id++)
        {
            if (!peers.ContainsKey(id))
            {
                throw new UsageException($"--peers must number the replicas 0 to {peers.Count - 1}; {id} is missing.");
            }
        }

        return peers.Count > 0 ? peers : throw new UsageException("--peers is empty.");
    }

    private static IPEndPoint ParseEndpoint(string text, string what)
    {
        try
        {
            return UdpTransportOptions.ParseEndpoint(text);
        }
        catch (FormatException exception)
        {
            throw new UsageException($"{what}: {exception.Message}", exception);
        }
    }

    private static bool IsKey(string text)
    {
        var bytes = new byte[(text.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(text, bytes, out var written) && written >= 16;
    }
}

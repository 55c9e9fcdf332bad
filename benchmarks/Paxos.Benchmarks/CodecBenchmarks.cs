using BenchmarkDotNet.Attributes;
using Paxos.Messages;

namespace Paxos.Benchmarks;

/// <summary>The wire codec on a full Proposal (16 updates of 64 bytes) and a small Accept.</summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private readonly MessageCodec _codec = new(new MessageCodecOptions { ClusterId = 1, ClusterSize = 3 });
    private readonly byte[] _buffer = new byte[2048];
    private Proposal _proposal = null!;
    private Accept _accept = null!;
    private byte[] _proposalFrame = null!;

    [GlobalSetup]
    public void Setup()
    {
        var updates = new ClientUpdate[16];
        for (var i = 0; i < updates.Length; i++)
        {
            updates[i] = new ClientUpdate(new ClientId(i + 1), 1, new byte[64]);
        }

        _proposal = new Proposal(new ReplicaId(1), new ViewNumber(1), new SequenceNumber(100), updates);
        _accept = new Accept(new ReplicaId(2), new ViewNumber(1), new SequenceNumber(100), new SequenceNumber(115));
        _proposalFrame = _buffer.AsSpan(0, _codec.Encode(_proposal, _buffer)).ToArray();
    }

    [Benchmark]
    public int EncodeProposal() => _codec.Encode(_proposal, _buffer);

    [Benchmark]
    public int EncodeAccept() => _codec.Encode(_accept, _buffer);

    [Benchmark]
    public PaxosMessage? DecodeProposal()
    {
        _codec.TryDecode(_proposalFrame, out var message);
        return message;
    }
}

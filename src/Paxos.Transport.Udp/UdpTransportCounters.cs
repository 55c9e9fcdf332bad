namespace Paxos.Transport.Udp;

/// <summary>A snapshot of a <see cref="UdpTransport"/>'s counters since it was built.</summary>
/// <remarks>Every received datagram either has all its frames delivered or ends at its first bad frame, which
/// is dropped and counted once; so <see cref="DatagramsReceived"/> = <see cref="DatagramsDelivered"/> +
/// <see cref="ReceiveDrops"/> once the receive loop is idle.</remarks>
/// <param name="DatagramsSent">Datagrams the socket accepted.</param>
/// <param name="FramesSent">Frames (messages) in those datagrams.</param>
/// <param name="DatagramsReceived">Datagrams read from the socket.</param>
/// <param name="DatagramsDelivered">Received datagrams every frame of which was delivered.</param>
/// <param name="FramesDelivered">Messages handed to the receiver.</param>
/// <param name="ReceiveDrops">Frames or datagrams dropped on receipt: the sum of the receive-side reasons.</param>
/// <param name="SendDrops">Messages dropped on the way out: the sum of the send-side reasons.</param>
/// <param name="ReceiveErrors">Socket errors the receive loop survived (for example an ICMP port unreachable
/// reported as a connection reset).</param>
public readonly record struct UdpTransportCounters(
    long DatagramsSent,
    long FramesSent,
    long DatagramsReceived,
    long DatagramsDelivered,
    long FramesDelivered,
    long ReceiveDrops,
    long SendDrops,
    long ReceiveErrors);

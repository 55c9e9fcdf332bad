namespace Paxos.Client.Listener;

/// <summary>What a <see cref="PaxosClientListener"/> did since it was built; a copy, taken at once.</summary>
/// <param name="ConnectionsAccepted">Connections taken (not counting those refused).</param>
/// <param name="ConnectionsRefused">Connections closed on arrival because <see cref="PaxosClientListenerOptions.MaxConnections"/>
/// were open.</param>
/// <param name="ConnectionsOpen">Connections open now.</param>
/// <param name="MalformedFrames">Connections closed for a malformed frame: a length out of range, an unknown type, a
/// type only replicas send, a field truncated or out of place, a first frame that is not Hello, another version, or a
/// stream that ended inside a frame.</param>
/// <param name="AuthenticationFailures">Connections closed for a frame whose tag was wrong (another key, a replay, a
/// changed byte).</param>
/// <param name="IdleTimeouts">Connections closed for sending nothing within <see cref="PaxosClientListenerOptions.IdleTimeout"/>.</param>
/// <param name="Requests">Requests answered, with a result or an error.</param>
/// <param name="ErrorAnswers">Requests answered with an error (refused, timed out, unavailable).</param>
public readonly record struct PaxosClientListenerCounters(
    long ConnectionsAccepted,
    long ConnectionsRefused,
    int ConnectionsOpen,
    long MalformedFrames,
    long AuthenticationFailures,
    long IdleTimeouts,
    long Requests,
    long ErrorAnswers);

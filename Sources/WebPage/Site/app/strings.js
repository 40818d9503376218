// Every text a person sees, in one place: translate this file to translate the page.
// {name} marks a value filled in at run time.
export const strings = {
  appName: "PartyLine",
  tagline: "Prove you are a real, distinct person: six strangers, one camera at a time.",

  // Connection and status
  statusOnline: "Connected",
  statusConnecting: "Connecting…",
  statusReconnecting: "Connection lost, reconnecting… (attempt {attempt})",
  statusOffline: "Offline",
  dismiss: "Dismiss",

  // Account
  accountTitle: "Your account",
  accountCreating: "Creating your key on this device…",
  accountSigningIn: "Signing in…",
  accountId: "Account",
  accountLevel: "Level",
  accountFree: "Free funds",
  accountLocked: "Locked in deposits",
  levelName0: "unregistered",
  levelName1: "independent",
  levelName2: "managed",
  levelManagedBy: "managed by {controller}",
  keyWarning:
    "Your account is a key kept in this browser. If you lose it (clear the site's data, lose the phone) you lose the account: nobody can restore it.",
  keyBackup: "Back up key",
  keyBackupTitle: "Key backup",
  keyBackupHelp:
    "Keep this text somewhere safe and private. Anyone who has it controls your account. It can be shown only now: the browser locks the key once this page is closed.",
  keyBackupLocked:
    "This browser keeps your key locked: it signs for you but never hands the key out, so it cannot be backed up any more.",
  keyImport: "Use a backed-up key",
  keyImportHelp: "Paste a key backup. It replaces the account in this browser.",
  keyImportConfirm: "Replace this browser's account with the backed-up one?",
  keyImportButton: "Import",
  keyImportInvalid: "That is not a PartyLine key backup.",
  copy: "Copy",
  copied: "Copied",
  close: "Close",
  withdrawTitle: "Withdraw free funds",
  withdrawAmount: "Amount",
  withdrawButton: "Withdraw",
  withdrawDone: "Withdrawn: {amount}. Free funds now {free}.",

  // Parties
  partiesTitle: "Parties",
  partiesEmpty: "No parties yet.",
  partiesRefresh: "Refresh",
  partyStarts: "Starts {time}",
  partyDuration: "{minutes} min",
  partyDeposit: "Deposit {amount}",
  partyNoDeposit: "No deposit",
  partyRegistrations: "{count} registered",
  partyStateUpcoming: "Registration opens {time}",
  partyStateOpen: "Registration open until {time}",
  partyStateClosed: "Registration closed",
  partyStateRunning: "Happening now",
  partyStateEnded: "Ended",
  partyYouAreRegistered: "You are registered",
  partyRegister: "Register",
  partyDeregister: "Deregister",
  partyDeregistered: "Deregistered. {amount} returned to your free funds.",
  partyJoin: "Join the party",
  partyResult: "Your result",

  // Registration
  registerTitle: "Register for {party}",
  registerHelp:
    "Commit to the place where you will be during the party. Nobody else may register within {meters} m of it. Your group sees it only during your own turn.",
  registerUseLocation: "Use my current location",
  registerLocating: "Finding your location…",
  registerLocated: "Found your location, accurate to {meters} m.",
  registerImprecise:
    "Your location is only accurate to {meters} m. Move to open sky, try again, or set the point by hand below.",
  registerLocationDenied: "Location is turned off for this page. Allow it in the browser settings, or set the point by hand below.",
  registerLocationUnavailable: "Your location could not be found. Set the point by hand below.",
  registerManual: "Or set the point by hand",
  registerLatitude: "Latitude (−90 to 90)",
  registerLongitude: "Longitude (−180 to 180)",
  registerStep: "Step for the buttons below",
  step10: "10 m",
  step100: "100 m",
  step1000: "1 km",
  north: "North",
  south: "South",
  east: "East",
  west: "West",
  registerDescription: "Describe the place (optional, helps your group)",
  registerSubmit: "Register and lock {amount}",
  registerCancel: "Cancel",
  registerDone: "Registered. Come back at the party's start.",
  registerInvalidPoint: "Enter a latitude from −90 to 90 and a longitude from −180 to 180.",

  // At the party
  sessionTitle: "Party session",
  sessionWaitingForStart: "Waiting for the party to start…",
  sessionNotPlaced: "You are not in a group of this party: too few people registered or came. Your deposit comes back.",
  sessionWaitingForGroup: "Your group was too small. Waiting for a new group…",
  sessionYou: "You are",
  sessionRoster: "Your group",
  sessionOrder: "Turn order",
  sessionWaitingForTurns: "Waiting for the group to gather. The first turn starts when everyone is here.",
  sessionTurn: "Turn {number} of {count}",
  sessionProverIs: "{prover} is proving",
  sessionYourTurnTitle: "your turn",
  sessionYourTurn: "Your turn: show the place around you with your rear camera.",
  sessionYouVerify: "Watch {prover}'s camera, ask for actions, then vote.",
  sessionYouObserve: "You joined after this turn started: you watch the next one.",
  sessionTimeLeft: "{seconds} s left",
  presenceJoined: "here",
  presenceReconnecting: "reconnecting",
  presenceLeft: "left",
  presenceAbsent: "not here",
  undersized: "Only {present} of the needed {minimum} members came. This group ends without turns.",

  // Prover
  proverPrompt: "Do this:",
  proverRequests: "Your group asks:",
  proverStreaming: "Streaming to {count} verifiers",
  proverConnecting: "Connecting to your verifiers…",
  streamStopped: "Your stream stopped: {reason}",
  stopDecided: "the turn was decided",
  stopRelay: "the relay ended the connection",
  stopLeft: "you left the party",
  stopDisconnected: "the connection to the server was lost for too long",
  cameraReleased: "Camera off.",
  leaveTurn: "Leave the party",
  leaveConfirm: "Leave for good? Your turn ends and you will not get another.",

  // Verifier
  verifierWaitingForVideo: "Waiting for {prover}'s video…",
  verifierLocation: "{prover} committed to: {latitude}, {longitude}",
  verifierLocationDistance: "{distance} from you",
  verifierLocationDescription: "“{description}”",
  verifierLocationUnavailable: "The committed place is not available.",
  verifierRequestLabel: "Ask the prover to do something",
  verifierRequestSend: "Send",
  verifierRequestSent: "Sent.",
  verifierNewPrompt: "New prompt",
  verifierPrompt: "Prompt:",
  approve: "Approve",
  deny: "Deny",
  voteSending: "Sending your vote…",
  voteCounted: "Your vote counted.",
  voteAcked: "Your vote counted: {vote}.",
  voteApprove: "approve",
  voteDeny: "deny",
  hideVideo: "Hide video",
  videoHidden: "Video hidden for this turn.",

  // Results
  resultsTitle: "Results",
  turnResult: "{prover}: {outcome} ({approvals} approve, {denials} deny, {threshold} needed)",
  outcomeApproved: "approved",
  outcomeDenied: "denied",
  outcomeNoShow: "did not show",
  outcomeIncomplete: "incomplete",
  sessionOver: "The session is over.",
  yourOutcome: "Your outcome: {outcome}",
  partyOutcomeValidated: "validated: you are a verified person",
  partyOutcomeFailed: "not validated",
  partyOutcomeNoShow: "no-show",
  partyOutcomeUnplaced: "not placed in a group",
  depositReleased: "Your deposit of {amount} was returned.",
  depositSlashed: "{slashed} of your deposit was kept; {returned} was returned.",
  attestationTitle: "Your signed attestation",
  backToParties: "All parties",
  attestationHelp: "Other apps can check this statement with the server's public key.",

  // Session-only entry (/join)
  joinTitle: "Join a party session",
  joinNoToken: "This link has no join token. Ask whoever invited you for a new link.",

  // Errors a person meets, each with what to do
  errorCameraDenied: "The camera is blocked for this page. Allow the camera in the browser settings, then reload.",
  errorNoRearCamera:
    "This device has no rear camera the page can use. PartyLine never uses the front camera: join from a phone with a rear camera.",
  errorCameraFailed: "The camera could not start ({detail}). Close other apps using it and reload.",
  errorTokenExpired: "Your invitation to this session has expired. Ask for a new link.",
  errorTokenInvalid: "This invitation is not valid. Ask for a new link.",
  errorSessionNotFound: "This session is not on this server any more (it ended or was never created).",
  errorSessionFull: "This session cannot take you.",
  errorSessionEnded: "This session has ended.",
  errorReplaced: "You opened this session somewhere else; this page stopped.",
  errorBadSignallingURL: "This link names a server the page cannot connect to. Ask for a new link.",
  errorConnectionLost: "The connection to the server was lost. Check your network; the page keeps trying.",
  errorRelayUnreachable:
    "The video relay cannot be reached from this network. Switch between Wi-Fi and mobile data, or try another network.",
  errorRelayRefused: "The video relay refused this device's credentials.",
  errorRateLimited: "Too many requests at once. Wait a few seconds and try again.",
  errorBadInput: "The server refused that: {message}",
  errorServer: "The server could not do that right now. Try again in a moment.",
  errorNetwork: "The server cannot be reached. Check your network and try again.",
  errorStorage: "The server lost its database for a moment; your session will be set up again.",
  errorNoCrypto: "This browser cannot keep a key safely (WebCrypto or IndexedDB is missing). Use a current browser.",
  errorNotSecure: "Open this page at its secure (https) address, so the browser lets it use the camera and location.",
  errorLoginExpired: "Your sign-in expired. Signing in again…",

  // Coordinator refusals, by error code
  "code:location-taken": "Someone else registered too close to that place. Pick a place farther away.",
  "code:insufficient-deposit": "Not enough free funds for the deposit.",
  "code:registration-closed": "Registration for this party is closed.",
  "code:already-registered": "You are already registered for this party.",
  "code:not-registered": "You are not registered for this party.",
  "code:invalid-location": "That place is not a valid point on Earth.",
  "code:invalid-description": "The description is too long or has characters that are not allowed.",
  "code:party-not-found": "This party no longer exists.",
  "code:party-full": "This party is full.",
  "code:insufficient-funds": "You do not have that much free.",
  "code:invalid-amount": "Enter a whole amount above zero.",
  "code:not-in-a-group": "You are not in a group of this party (yet).",
  "code:location-hidden": "The prover's place is shown only during their turn.",
  "code:rate-limited": "Too many requests at once. Wait a few seconds and try again.",
  "code:already-voted": "You already voted in this turn.",
  "code:wrong-turn": "That turn is already decided.",
  "code:no-turn": "No turn is in progress.",
};

// The text for `key` with `{name}` placeholders filled from `values`.
export function t(key, values = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

// Fills every element with a `data-text` attribute from the strings.
export function translateDocument(root = document) {
  for (const element of root.querySelectorAll("[data-text]")) element.textContent = t(element.dataset.text);
  for (const element of root.querySelectorAll("[data-placeholder]")) element.placeholder = t(element.dataset.placeholder);
  for (const element of root.querySelectorAll("[data-label]")) element.setAttribute("aria-label", t(element.dataset.label));
}

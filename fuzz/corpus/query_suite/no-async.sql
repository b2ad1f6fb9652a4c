-- pragma no_async
SHOW COLUMNS FROM DeepForcedSource;

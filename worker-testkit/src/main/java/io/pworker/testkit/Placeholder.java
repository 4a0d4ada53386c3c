package io.pworker.testkit; final class Placeholder {}

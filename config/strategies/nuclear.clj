;; Nuclear Energy with Feaver Frontrunner V5: alchemiser's own rendition of the decision tree in
;; docs/strategies.md (overbought -> UVXY or UVXY/BTAL, oversold -> TQQQ/UPRO, bull -> top-3 nuclear names by
;; 90-day average return, bear -> inverse-volatility blend of two bear groups). Rebalanced daily.
(defsymphony
 "Nuclear Energy with Feaver Frontrunner V5"
 {:asset-class "EQUITIES", :rebalance-frequency :daily}
 (group
  "Nuclear"
  [(if
    (> (rsi "SPY" {:window 10}) 79)
    [(group
      "Overbought SPY"
      [(if
        (> (rsi "SPY" {:window 10}) 81)
        [(asset "UVXY" nil)]
        [(if
          (> (rsi "IOO" {:window 10}) 81)
          [(asset "UVXY" nil)]
          [(if
            (> (rsi "TQQQ" {:window 10}) 81)
            [(asset "UVXY" nil)]
            [(if
              (> (rsi "VTV" {:window 10}) 81)
              [(asset "UVXY" nil)]
              [(if
                (> (rsi "XLF" {:window 10}) 81)
                [(asset "UVXY" nil)]
                [(weight-specified 0.75 (asset "UVXY" nil) 0.25 (asset "BTAL" nil))])])])])])])]
    [(if
      (> (rsi "IOO" {:window 10}) 79)
      [(group
        "Overbought IOO"
        [(if
          (> (rsi "IOO" {:window 10}) 81)
          [(asset "UVXY" nil)]
          [(if
            (> (rsi "TQQQ" {:window 10}) 81)
            [(asset "UVXY" nil)]
            [(if
              (> (rsi "VTV" {:window 10}) 81)
              [(asset "UVXY" nil)]
              [(if
                (> (rsi "XLF" {:window 10}) 81)
                [(asset "UVXY" nil)]
                [(weight-specified 0.75 (asset "UVXY" nil) 0.25 (asset "BTAL" nil))])])])])])]
      [(if
        (> (rsi "TQQQ" {:window 10}) 79)
        [(group
          "Overbought TQQQ"
          [(if
            (> (rsi "TQQQ" {:window 10}) 81)
            [(asset "UVXY" nil)]
            [(if
              (> (rsi "VTV" {:window 10}) 81)
              [(asset "UVXY" nil)]
              [(if
                (> (rsi "XLF" {:window 10}) 81)
                [(asset "UVXY" nil)]
                [(weight-specified 0.75 (asset "UVXY" nil) 0.25 (asset "BTAL" nil))])])])])]
        [(if
          (> (rsi "VTV" {:window 10}) 79)
          [(group
            "Overbought VTV"
            [(if
              (> (rsi "VTV" {:window 10}) 81)
              [(asset "UVXY" nil)]
              [(if
                (> (rsi "XLF" {:window 10}) 81)
                [(asset "UVXY" nil)]
                [(weight-specified 0.75 (asset "UVXY" nil) 0.25 (asset "BTAL" nil))])])])]
          [(if
            (> (rsi "XLF" {:window 10}) 79)
            [(group
              "Overbought XLF"
              [(if
                (> (rsi "XLF" {:window 10}) 81)
                [(asset "UVXY" nil)]
                [(weight-specified 0.75 (asset "UVXY" nil) 0.25 (asset "BTAL" nil))])])]
            [(if
              (> (rsi "VOX" {:window 10}) 79)
              [(group
                "Overbought VOX"
                [(if
                  (> (rsi "XLF" {:window 10}) 81)
                  [(asset "UVXY" nil)]
                  [(weight-specified 0.75 (asset "UVXY" nil) 0.25 (asset "BTAL" nil))])])]
              [(if
                (< (rsi "TQQQ" {:window 10}) 30)
                [(asset "TQQQ" nil)]
                [(if
                  (< (rsi "SPY" {:window 10}) 30)
                  [(asset "UPRO" nil)]
                  [(if
                    (> (current-price "SPY") (moving-average-price "SPY" {:window 200}))
                    [(group
                      "Bull"
                      [(filter
                        (moving-average-return {:window 90})
                        (select-top 3)
                        [(asset "SMR" nil)
                         (asset "BWXT" nil)
                         (asset "LEU" nil)
                         (asset "EXC" nil)
                         (asset "NLR" nil)
                         (asset "OKLO" nil)])])]
                    [(group
                      "Bear"
                      [(weight-inverse-volatility
                        14
                        [(group
                          "Bear 1"
                          [(if
                            (< (rsi "PSQ" {:window 10}) 35)
                            [(asset "SQQQ" nil)]
                            [(if
                              (< (cumulative-return "QQQ" {:window 60}) -10)
                              [(if
                                (> (rsi "TLT" {:window 20}) (rsi "PSQ" {:window 20}))
                                [(asset "TQQQ" nil)]
                                [(asset "PSQ" nil)])]
                              [(if
                                (> (current-price "TQQQ") (moving-average-price "TQQQ" {:window 20}))
                                [(if
                                  (> (rsi "TLT" {:window 20}) (rsi "PSQ" {:window 20}))
                                  [(asset "TQQQ" nil)]
                                  [(asset "SQQQ" nil)])]
                                [(if
                                  (> (rsi "IEF" {:window 10}) (rsi "PSQ" {:window 20}))
                                  [(asset "SQQQ" nil)]
                                  [(if
                                    (> (rsi "TLT" {:window 20}) (rsi "PSQ" {:window 20}))
                                    [(asset "QQQ" nil)]
                                    [(asset "SQQQ" nil)])])])])])])
                         (group
                          "Bear 2"
                          [(if
                            (< (rsi "PSQ" {:window 10}) 35)
                            [(asset "SQQQ" nil)]
                            [(if
                              (> (current-price "TQQQ") (moving-average-price "TQQQ" {:window 20}))
                              [(if
                                (> (rsi "TLT" {:window 20}) (rsi "PSQ" {:window 20}))
                                [(asset "TQQQ" nil)]
                                [(asset "SQQQ" nil)])]
                              [(if
                                (> (rsi "TLT" {:window 20}) (rsi "PSQ" {:window 20}))
                                [(asset "QQQ" nil)]
                                [(asset "SQQQ" nil)])])])])])])])])])])])])])])])]))
